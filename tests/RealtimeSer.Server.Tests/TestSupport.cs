using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Logging;
using NAudio.Wave;
using RealtimeSer.Core;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Server.Tests.Robustness;
using RealtimeSer.Tests.Fakes;

namespace RealtimeSer.Server.Tests;

internal static class TestPaths
{
    public static string RepoRoot { get; } =
        ModelLocator.RepositoryRoots().FirstOrDefault()
        ?? throw new InvalidOperationException("Tests must run from a RealtimeSer checkout.");

    public static string SharedData => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    /// <summary>A file under ../shared/data; skips the test when that folder is not on this machine.</summary>
    public static string RequireShared(string relative)
    {
        var path = Path.Combine(SharedData, relative);
        Skip.IfNot(File.Exists(path), $"needs {path} (../shared/data is not on this machine)");
        return path;
    }

    public static string RequireCallFixture() => RequireShared("fixtures/calls/call01_mulaw8k.wav");

    public static SileroVadModel LoadVad()
    {
        try
        {
            return SileroVadModel.Load(ModelLocator.SileroVad());
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"Silero VAD model missing: {e.Message}");
        }
    }

    /// <summary>The data chunk of a WAV file (the G.711 fixture has a fact chunk before it).</summary>
    public static byte[] WavData(string path)
    {
        using var reader = new WaveFileReader(path);
        var data = new byte[reader.Length];
        reader.ReadExactly(data);
        return data;
    }
}

/// <summary>
/// A server on a free loopback port with the real Silero VAD and, unless a test passes others, the fake model
/// and drop-oldest engine options.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly SileroVadModel _vad;

    private TestServer(SileroVadModel vad, EmotionEngine engine, SerServer server, TestClient client)
    {
        _vad = vad;
        Engine = engine;
        Server = server;
        Client = client;
    }

    public EmotionEngine Engine { get; }
    public SerServer Server { get; }
    public TestClient Client { get; }

    public static async Task<TestServer> StartAsync(
        Action<ServerOptions>? configure = null,
        IEmotionClassifier? classifier = null,
        EngineOptions? engineOptions = null,
        Action<ILoggingBuilder>? logging = null,
        HttpMessageHandler? handler = null,
        IReadOnlyList<IEmotionClassifier>? classifiers = null
    )
    {
        var vad = TestPaths.LoadVad();
        var engine = new EmotionEngine(
            classifiers ?? [classifier ?? new FakeClassifier()],
            vad,
            engineOptions ?? new EngineOptions { Overload = OverloadPolicy.DropOldest }
        );
        var options = new ServerOptions
        {
            Port = 0,
            MetricsPort = 0,
            Host = "127.0.0.1",
            ShutdownGraceSeconds = 1,
            StatsIntervalSeconds = 1,
            // Test assemblies run side by side on two cores and one of them saturates the CPU on purpose:
            // the servers of tests that are not about admission must not refuse streams because of it.
            AdaptiveAdmission = false,
        };
        configure?.Invoke(options);
        var server = SerServer.Create(new ModelRegistry(engine), options, logging ?? (_ => { }));
        await server.StartAsync();
        return new TestServer(vad, engine, server, new TestClient(server.Address, handler));
    }

    public static RecognitionConfig MulawStereo() =>
        new()
        {
            Encoding = AudioEncoding.Mulaw,
            SampleRateHertz = 8000,
            AudioChannelCount = 2,
            ChannelNames = { "agent", "customer" },
            InterimResults = true,
        };

    /// <summary>Streams audio in 100 ms chunks (paced at real time or not) and collects every response.</summary>
    public async Task<(List<StreamingRecognizeResponse> Responses, Status Status)> StreamAsync(
        RecognitionConfig config,
        byte[] audio,
        bool paced,
        int bytesPer100Ms = 1600,
        CancellationToken cancellationToken = default
    )
    {
        var outcome = await Streams.RunAsync(Client, config, audio, paced, bytesPer100Ms, cancellationToken);
        return (outcome.Responses, outcome.Status);
    }

    public async Task<HealthCheckResponse.Types.ServingStatus> CheckAsync()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = await Client.UnaryAsync(
            HealthService.CheckPath,
            new HealthCheckRequest(),
            HealthCheckResponse.Parser,
            cancellationToken: cancel.Token
        );
        return response.Status;
    }

    /// <summary>Waits until no stream is admitted on the server nor open on the engine.</summary>
    public Task WaitForNoStreamsAsync(TimeSpan? within = null) =>
        Wait.UntilAsync(
            () => Server.LiveStreams == 0 && Engine.ActiveStreams == 0,
            within ?? TimeSpan.FromSeconds(15),
            () => $"{Server.LiveStreams} admitted, {Engine.ActiveStreams} engine streams still open"
        );

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        await Engine.DisposeAsync();
        _vad.Dispose();
    }
}
