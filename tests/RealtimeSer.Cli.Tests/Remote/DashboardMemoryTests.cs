using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Core.Models;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using Xunit.Abstractions;

namespace RealtimeSer.Cli.Tests.Remote;

/// <summary>
/// The dashboard's server push against subscribers that never read, measured on a real <c>ser serve</c>
/// process (its resident memory is what the machine pays).
/// </summary>
public sealed class DashboardMemoryTests(ITestOutputHelper output)
{
    private const int Streams = 64;
    private const int Subscribers = 300;
    private const long BoundAboveBaseline = 300L << 20;
    private const long ReturnWithin = 50L << 20;

    [SkippableFact]
    public async Task Subscribers_that_never_read_cannot_grow_the_server_and_memory_returns_when_they_leave()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "reads the server's resident memory from /proc");
        Skip.If(ModelCatalog.List().Count == 0, "no emotion model installed");
        var port = FreePort();
        using var serve = StartServe(port);
        try
        {
            await MeasureAsync(serve, port);
        }
        finally
        {
            // Disposing a Process object leaves the process running.
            serve.Kill(entireProcessTree: true);
            await serve.WaitForExitAsync();
        }
    }

    private async Task MeasureAsync(Process serve, int port)
    {
        using var channel = new SerChannel(new Uri($"http://127.0.0.1:{port}"));
        await WaitServingAsync(channel, serve);

        // The API edge refuses names this long: a few of them would make every dashboard snapshot megabytes.
        var huge = Open(channel, new string('n', 30_000));
        var refused = await Assert.ThrowsAsync<RpcException>(() => huge.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("config.channel_names", refused.Status.Detail, StringComparison.Ordinal);
        huge.Dispose();

        // 64 two-channel streams with the longest names accepted, kept open for the whole test.
        var longest = new string('n', 64);
        Assert.Equal(64, (longest[1..] + "A").Length);
        var calls = Enumerable.Range(0, Streams).Select(_ => Open(channel, longest)).ToList();

        var snapshot = await WaitForStreamsAsync(port, Streams);
        output.WriteLine($"snapshot of {Streams} streams: {snapshot} bytes");

        var baseline = await SettledRssAsync(serve);
        var sockets = new List<Socket>();
        var statuses = new List<int>();
        try
        {
            for (var i = 0; i < Subscribers; i++)
            {
                var (socket, status) = await SubscribeWithoutReadingAsync(port);
                sockets.Add(socket);
                statuses.Add(status);
            }
            // Several pushes (one a second) go out, or fail to, while nobody reads: real time is the point (the
            // feed pushes on a clock); waiting longer only makes the memory bound stricter.
            await Task.Delay(TimeSpan.FromSeconds(5));
            var peak = Rss(serve);
            var served = statuses.Count(s => s == 200);
            output.WriteLine(
                $"baseline {baseline >> 20} MiB, with {Subscribers} silent subscribers {peak >> 20} MiB; {served} served, {statuses.Count(s => s == 429)} refused (429)"
            );
            Assert.True(served is > 0 and <= 32, $"{served} subscribers served");
            Assert.Equal(Subscribers, served + statuses.Count(s => s == 429));
            Assert.True(
                peak - baseline < BoundAboveBaseline,
                $"{(peak - baseline) >> 20} MiB above the baseline"
            );
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
        var after = await SettledRssAsync(serve, until: rss => rss - baseline < ReturnWithin);
        output.WriteLine($"after they left: {after >> 20} MiB");
        Assert.True(after - baseline < ReturnWithin, $"{(after - baseline) >> 20} MiB above the baseline");
        foreach (var call in calls)
        {
            call.Dispose();
        }
    }

    private static AsyncDuplexStreamingCall<StreamingRecognizeRequest, StreamingRecognizeResponse> Open(
        SerChannel channel,
        string name
    )
    {
        var call = channel.Recognizer.StreamingRecognize();
        _ = call.RequestStream.WriteAsync(
            new StreamingRecognizeRequest
            {
                Config = new RecognitionConfig
                {
                    Encoding = AudioEncoding.Linear16,
                    SampleRateHertz = 16000,
                    AudioChannelCount = 2,
                    ChannelNames = { name[1..] + "A", name[1..] + "B" },
                },
            }
        );
        return call;
    }

    private static Process StartServe(int port)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (
            var a in new[]
            {
                SerProcess.Dll,
                "serve",
                "--port",
                port.ToString(CultureInfo.InvariantCulture),
                "--metrics-port",
                "-1",
                "--max-streams",
                "128",
            }
        )
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["REALTIMESER_ROOT"] = RealtimeSer.Core.ModelLocator.RepositoryRoots().First();
        start.Environment["REALTIMESER_SERVER__HOST"] = "127.0.0.1";
        start.Environment["REALTIMESER_SERVER__ADAPTIVEADMISSION"] = "false";
        // The streams only need to stay open: no audio comes.
        start.Environment["REALTIMESER_SERVER__STREAMIDLETIMEOUTSECONDS"] = "0";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitServingAsync(SerChannel channel, Process serve)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(serve.HasExited, "ser serve exited");
            try
            {
                await channel.Health.CheckAsync(
                    new global::Grpc.Health.V1.HealthCheckRequest(),
                    deadline: DateTime.UtcNow.AddSeconds(2)
                );
                return;
            }
            // SerChannel throws OperationCanceledException on cancellation, and so on a passed deadline: a server
            // still starting on a loaded machine answers this way rather than with an RpcException.
            catch (Exception e)
                when (e is RpcException or OperationCanceledException
                    && deadline.Elapsed < TimeSpan.FromSeconds(60)
                )
            {
                await Task.Delay(200);
            }
        }
    }

    private static async Task<int> WaitForStreamsAsync(int port, int count)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var snapshot = await http.GetStringAsync("/v1/streams");
            var streams = snapshot.Split("\"source\":", StringSplitOptions.None).Length - 1;
            if (streams >= count)
            {
                return Encoding.UTF8.GetByteCount(snapshot);
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"{streams} of {count} streams open");
            await Task.Delay(100);
        }
    }

    /// <summary>A raw HTTP/1.1 feed request on a socket that receives into 4 KiB; reads only the status line.</summary>
    private static async Task<(Socket Socket, int Status)> SubscribeWithoutReadingAsync(int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(
            Encoding.ASCII.GetBytes($"GET /v1/streams/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
            SocketFlags.None
        );
        var line = new StringBuilder();
        var one = new byte[1];
        while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await socket.ReceiveAsync(one, SocketFlags.None));
            line.Append((char)one[0]);
        }
        return (socket, int.Parse(line.ToString().Split(' ')[1], CultureInfo.InvariantCulture));
    }

    private static long Rss(Process process)
    {
        var status = File.ReadAllLines($"/proc/{process.Id}/status");
        var kb = status
            .Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>RSS once it stops moving (or <paramref name="until"/> holds), polled for at most 30 s.</summary>
    private static async Task<long> SettledRssAsync(Process process, Func<long, bool>? until = null)
    {
        var deadline = Stopwatch.StartNew();
        var last = Rss(process);
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(500);
            var now = Rss(process);
            if (until?.Invoke(now) ?? Math.Abs(now - last) < (2L << 20))
            {
                return now;
            }
            last = now;
        }
        return last;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
