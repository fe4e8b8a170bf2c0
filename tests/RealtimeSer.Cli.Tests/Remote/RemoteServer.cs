using RealtimeSer.Core;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Server;

namespace RealtimeSer.Cli.Tests.Remote;

/// <summary>
/// An in-process <c>ser serve</c> on a free loopback port with the installed default model (models/general6)
/// and the Silero VAD; skips when either is not installed.
/// </summary>
internal sealed class RemoteServer : IAsyncDisposable
{
    private readonly OnnxEmotionClassifier _classifier;
    private readonly SileroVadModel _vad;
    private readonly EmotionEngine _engine;

    private RemoteServer(
        OnnxEmotionClassifier classifier,
        SileroVadModel vad,
        EmotionEngine engine,
        SerServer server
    )
    {
        _classifier = classifier;
        _vad = vad;
        _engine = engine;
        Server = server;
    }

    public SerServer Server { get; }

    public string Url => Server.Address.ToString();

    public static async Task<RemoteServer> StartAsync()
    {
        Skip.If(
            ModelCatalog.List().Count == 0,
            "no emotion model installed (the default is models/general6)"
        );
        SileroVadModel vad;
        try
        {
            vad = SileroVadModel.Load(ModelLocator.SileroVad());
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"Silero VAD model missing: {e.Message}");
        }
        var classifier = OnnxEmotionClassifier.Load(ModelCatalog.Resolve(null));
        var engine = new EmotionEngine(
            classifier,
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
        var server = SerServer.Create(new ModelRegistry(engine), options, _ => { });
        await server.StartAsync();
        return new RemoteServer(classifier, vad, engine, server);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync();
        await Server.DisposeAsync();
        await _engine.DisposeAsync();
        _classifier.Dispose();
        _vad.Dispose();
    }
}
