using Google.Protobuf;
using RealtimeSer.Core;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Fakes;

namespace RealtimeSer.Server.Tests;

internal static class TestPaths
{
    public static string RepoRoot { get; } =
        ModelLocator.RepositoryRoots().FirstOrDefault()
        ?? throw new InvalidOperationException("Tests must run from a RealtimeSer checkout.");

    public static string CallFixture =>
        Path.GetFullPath(
            Path.Combine(RepoRoot, "..", "shared", "data", "fixtures", "calls", "call01_mulaw8k.wav")
        );

    public static string RequireCallFixture()
    {
        Skip.IfNot(File.Exists(CallFixture), $"needs {CallFixture} (../shared/data is not on this machine)");
        return CallFixture;
    }

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
        var bytes = File.ReadAllBytes(path);
        var offset = 12;
        while (offset + 8 <= bytes.Length)
        {
            var id = System.Text.Encoding.ASCII.GetString(bytes, offset, 4);
            var size = BitConverter.ToInt32(bytes, offset + 4);
            if (id == "data")
            {
                return bytes.AsSpan(offset + 8, Math.Min(size, bytes.Length - offset - 8)).ToArray();
            }
            offset += 8 + size + (size & 1);
        }
        throw new InvalidDataException("no data chunk");
    }
}

/// <summary>A server on a free loopback port with the fake model and the real Silero VAD.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly SileroVadModel _vad;

    private TestServer(SileroVadModel vad, EmotionEngine engine, SerServer server)
    {
        _vad = vad;
        Engine = engine;
        Server = server;
        Client = new GrpcClient(server.Address);
    }

    public EmotionEngine Engine { get; }
    public SerServer Server { get; }
    public GrpcClient Client { get; }

    public static async Task<TestServer> StartAsync(Action<ServerOptions>? configure = null)
    {
        var vad = TestPaths.LoadVad();
        var engine = new EmotionEngine(
            new FakeClassifier(),
            vad,
            new EngineOptions { Overload = OverloadPolicy.DropOldest }
        );
        var options = new ServerOptions
        {
            Port = 0,
            MetricsPort = 0,
            Host = "127.0.0.1",
            ShutdownGraceSeconds = 1,
            StatsIntervalSeconds = 1,
        };
        configure?.Invoke(options);
        var server = SerServer.Create(new ModelRegistry(engine), options, _ => { });
        await server.StartAsync();
        return new TestServer(vad, engine, server);
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
    public async Task<(List<StreamingRecognizeResponse> Responses, GrpcStatus Status)> StreamAsync(
        RecognitionConfig config,
        byte[] audio,
        bool paced,
        int bytesPer100Ms = 1600,
        CancellationToken cancellationToken = default
    )
    {
        await using var call = Client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser,
            cancellationToken: cancellationToken
        );
        var responses = new List<StreamingRecognizeResponse>();
        var reading = Task.Run(
            async () =>
            {
                try
                {
                    while (await call.ReadAsync() is { } r)
                    {
                        responses.Add(r);
                    }
                    return GrpcStatus.Ok;
                }
                catch (GrpcException e)
                {
                    return e.Status;
                }
            },
            cancellationToken
        );
        await call.WriteAsync(new StreamingRecognizeRequest { Config = config });
        var started = DateTime.UtcNow;
        for (var offset = 0; offset < audio.Length; offset += bytesPer100Ms)
        {
            var n = Math.Min(bytesPer100Ms, audio.Length - offset);
            if (
                !await call.WriteAsync(
                    new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio, offset, n) }
                )
            )
            {
                break;
            }
            if (paced)
            {
                var due = started + TimeSpan.FromMilliseconds((offset + n) / (double)bytesPer100Ms * 100);
                var wait = due - DateTime.UtcNow;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }
            }
        }
        await call.CompleteRequestAsync();
        var status = await reading;
        return (responses, status);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        await Engine.DisposeAsync();
        _vad.Dispose();
    }
}
