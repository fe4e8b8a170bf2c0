using System.Net;
using System.Net.Sockets;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Tests.Fakes;

namespace RealtimeSer.Server.Tests;

/// <summary>A port the server cannot have is refused with the port and the setting to change, before any host starts.</summary>
public sealed class ListenTests
{
    [SkippableTheory]
    [InlineData("gRPC", "--port (Server:Port)")]
    [InlineData("metrics", "--metrics-port (Server:MetricsPort)")]
    public async Task A_port_another_socket_listens_on_is_refused_saying_which_setting_to_change(
        string what,
        string setting
    )
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        using var vad = TestPaths.LoadVad();
        await using var engine = new EmotionEngine(new FakeClassifier(), vad, new EngineOptions());
        var options = new ServerOptions
        {
            Host = "127.0.0.1",
            Port = what == "gRPC" ? taken : 0,
            MetricsPort = what == "metrics" ? taken : 0,
        };
        await using var server = SerServer.Create(new ModelRegistry(engine), options, _ => { });

        var error = await Assert.ThrowsAsync<ListenException>(() => server.StartAsync());

        Assert.Equal(
            $"cannot listen on 127.0.0.1:{taken} for {what}: the address is already in use (another `ser serve`?). "
                + $"Stop what holds it, or give another {setting}.",
            error.Message
        );
    }

    [Fact]
    public void The_grpc_and_metrics_ports_cannot_be_the_same()
    {
        var options = new ServerOptions { Port = 50123, MetricsPort = 50123 };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("gRPC and metrics cannot share port 50123", error.Message, StringComparison.Ordinal);
    }
}
