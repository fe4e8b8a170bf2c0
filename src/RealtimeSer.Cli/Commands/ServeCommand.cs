using System.CommandLine;
using System.Globalization;
using RealtimeSer.Core;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Server;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser serve</c>: the gRPC service (and /metrics) on the default or a chosen model.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int?>("--port") { Description = "gRPC port (default 50051)." };
        var host = new Option<string?>("--host")
        {
            Description = "Listen address: localhost (default), * for all interfaces, or an IP.",
        };
        var model = new Option<string?>("--model")
        {
            Description =
                "Model id (see `ser models`) or a model folder; several, comma-separated, run on the same "
                + "windows (e.g. crema6,arousal3); default: the Models setting, else the installed default model.",
        };
        var metricsPort = new Option<int?>("--metrics-port")
        {
            Description = "Prometheus /metrics port (default 9464; negative disables).",
        };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM certificate chain for TLS." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key for TLS." };
        var apiKeyHash = new Option<string[]>("--api-key-hash")
        {
            Description =
                "Accepted API key as sha256:<hex> (repeatable); clients send authorization: Bearer <key>.",
            AllowMultipleArgumentsPerToken = false,
        };
        var maxStreams = new Option<int?>("--max-streams")
        {
            Description = "Concurrent stream limit (default 64).",
        };
        var vadMaxBatch = new Option<int?>("--vad-max-batch")
        {
            Description =
                "Most VAD frames (of all streams and channels) per Silero run (default 0: one run per frame; 64 fits about 1.85× the streams below capacity but serves fewer past it, see docs/reliability.md).",
        };
        var noWeb = new Option<bool>("--no-web")
        {
            Description =
                "Do not serve the browser pages (microphone demo at /, dashboard at /dashboard) on the port.",
        };
        var command = new Command(
            "serve",
            "Serve real-time emotion recognition over gRPC (realtime_ser.v1.EmotionRecognizer, grpc.health.v1), "
                + "with a live microphone page at / and a live call dashboard at /dashboard on the same port. "
                + "Settings also come from appsettings.json and REALTIMESER_SERVER__* variables."
        )
        {
            port,
            host,
            model,
            metricsPort,
            tlsCert,
            tlsKey,
            apiKeyHash,
            maxStreams,
            vadMaxBatch,
            noWeb,
        };
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    var overrides = new Dictionary<string, string?>();
                    void Set(string key, string? value)
                    {
                        if (value is not null)
                        {
                            overrides[$"{ServerOptions.Section}:{key}"] = value;
                        }
                    }
                    Set(
                        nameof(ServerOptions.Port),
                        parse.GetValue(port)?.ToString(CultureInfo.InvariantCulture)
                    );
                    Set(nameof(ServerOptions.Host), parse.GetValue(host));
                    Set(
                        nameof(ServerOptions.MetricsPort),
                        parse.GetValue(metricsPort)?.ToString(CultureInfo.InvariantCulture)
                    );
                    Set(nameof(ServerOptions.TlsCertificate), parse.GetValue(tlsCert));
                    Set(nameof(ServerOptions.TlsKey), parse.GetValue(tlsKey));
                    Set(
                        nameof(ServerOptions.MaxConcurrentStreams),
                        parse.GetValue(maxStreams)?.ToString(CultureInfo.InvariantCulture)
                    );
                    Set(
                        nameof(ServerOptions.VadMaxBatch),
                        parse.GetValue(vadMaxBatch)?.ToString(CultureInfo.InvariantCulture)
                    );
                    if (parse.GetValue(noWeb))
                    {
                        Set(nameof(ServerOptions.Web), "false");
                    }
                    var hashes = parse.GetValue(apiKeyHash) ?? [];
                    for (var i = 0; i < hashes.Length; i++)
                    {
                        Set($"{nameof(ServerOptions.ApiKeyHashes)}:{i}", hashes[i]);
                    }
                    var options = SerServer.LoadOptions([], overrides);
                    options.Validate();

                    var ids = ModelOptions.Split(parse.GetValue(model) ?? options.Models);
                    if (ids.Count == 0)
                    {
                        ids = [ModelCatalog.Resolve(null).Id];
                    }
                    using var loaded = LoadedModels.Load(
                        ids,
                        id => OnnxEmotionClassifier.Load(ModelCatalog.Resolve(id))
                    );
                    using var vad = SileroVadModel.Load(ModelLocator.SileroVad());
                    await using var engine = new EmotionEngine(
                        loaded.Classifiers,
                        vad,
                        new EngineOptions
                        {
                            Overload = OverloadPolicy.DropOldest,
                            MaxBacklogSeconds = options.MaxBacklogSeconds,
                            MaxQueuedSeconds = Math.Max(5, options.MaxBacklogSeconds),
                            VadMaxBatch = options.VadMaxBatch,
                        }
                    );
                    await using var server = SerServer.Create(new ModelRegistry(engine), options);
                    await Console.Error.WriteLineAsync(
                        $"ser serve: {ExecutionNotes.ModelLine(engine.Name, loaded.First, threads: null)}; Ctrl+C stops after draining live streams."
                    );
                    await server.RunAsync(ct);
                    return 0;
                })
        );
        return command;
    }
}
