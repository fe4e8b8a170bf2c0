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
    public static Command Create() =>
        CliCommand.Create(
            "serve",
            "Serve real-time emotion recognition over gRPC (realtime_ser.v1.EmotionRecognizer, grpc.health.v1), "
                + "with a live microphone page at / and a live call dashboard at /dashboard on the same port. "
                + "Settings also come from appsettings.json and REALTIMESER_SERVER__* variables.",
            command => new Options(command),
            RunAsync
        );

    private static async Task<int> RunAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        var options = SerServer.LoadOptions([], o.Overrides(parse));
        options.Validate();

        var ids = ModelOptions.Split(parse.GetValue(o.Model) ?? options.Models);
        if (ids.Count == 0)
        {
            ids = [ModelCatalog.Resolve(null).Id];
        }
        using var loaded = LoadedModels.Load(ids, id => OnnxEmotionClassifier.Load(ModelCatalog.Resolve(id)));
        using var vad = SileroVadModel.Load(ModelLocator.SileroVad());
        await using var engine = new EmotionEngine(loaded.Classifiers, vad, options.ToEngineOptions());
        await using var server = SerServer.Create(new ModelRegistry(engine), options);
        await Console.Error.WriteLineAsync(
            $"ser serve: {ExecutionNotes.ModelLine(engine.Name, loaded.First, threads: null)}; Ctrl+C stops after draining live streams."
        );
        await server.RunAsync(ct);
        return 0;
    }

    private sealed class Options(Command command)
    {
        public Option<int?> Port { get; } = command.AddOption<int?>("--port", "gRPC port (default 50051).");

        public Option<string?> Host { get; } =
            command.AddOption<string?>(
                "--host",
                "Listen address: localhost (default), * for all interfaces, or an IP."
            );

        public Option<string?> Model { get; } =
            command.AddOption<string?>(
                "--model",
                "Model id (see `ser models`) or a model folder; several, comma-separated, run on the same "
                    + "windows (e.g. general6,arousal3a); default: the Models setting, else the installed default model."
            );

        public Option<int?> MetricsPort { get; } =
            command.AddOption<int?>(
                "--metrics-port",
                "Prometheus /metrics port (default 9464; negative disables)."
            );

        public Option<string?> TlsCert { get; } =
            command.AddOption<string?>("--tls-cert", "PEM certificate chain for TLS.");

        public Option<string?> TlsKey { get; } =
            command.AddOption<string?>("--tls-key", "PEM private key for TLS.");

        public Option<string[]> ApiKeyHash { get; } =
            command.AddOption(
                new Option<string[]>("--api-key-hash")
                {
                    Description =
                        "Accepted API key as sha256:<hex> (repeatable); clients send authorization: Bearer <key>.",
                    AllowMultipleArgumentsPerToken = false,
                }
            );

        public Option<int?> MaxStreams { get; } =
            command.AddOption<int?>("--max-streams", "Concurrent stream limit (default 64).");

        public Option<int?> VadMaxBatch { get; } =
            command.AddOption<int?>(
                "--vad-max-batch",
                "Most VAD frames (of all streams and channels) per Silero run (default 0: one run per frame; 64 fits about 1.85× the streams below capacity but serves fewer past it, see docs/reliability.md)."
            );

        public Option<bool> NoWeb { get; } =
            command.AddOption<bool>(
                "--no-web",
                "Do not serve the browser pages (microphone demo at /, dashboard at /dashboard) on the port."
            );

        /// <summary>
        /// The options given, as configuration keys (Server:Port, Server:ApiKeyHashes:0, ...) that override
        /// appsettings.json and the environment; an option not given overrides nothing.
        /// </summary>
        public Dictionary<string, string?> Overrides(ParseResult parse)
        {
            var overrides = new Dictionary<string, string?>();
            void Set(string key, object? value)
            {
                if (value is not null)
                {
                    overrides[$"{ServerOptions.Section}:{key}"] = Convert.ToString(
                        value,
                        CultureInfo.InvariantCulture
                    );
                }
            }
            Set(nameof(ServerOptions.Port), parse.GetValue(Port));
            Set(nameof(ServerOptions.Host), parse.GetValue(Host));
            Set(nameof(ServerOptions.MetricsPort), parse.GetValue(MetricsPort));
            Set(nameof(ServerOptions.TlsCertificate), parse.GetValue(TlsCert));
            Set(nameof(ServerOptions.TlsKey), parse.GetValue(TlsKey));
            Set(nameof(ServerOptions.MaxConcurrentStreams), parse.GetValue(MaxStreams));
            Set(nameof(ServerOptions.VadMaxBatch), parse.GetValue(VadMaxBatch));
            if (parse.GetValue(NoWeb))
            {
                Set(nameof(ServerOptions.Web), "false");
            }
            var hashes = parse.GetValue(ApiKeyHash) ?? [];
            for (var i = 0; i < hashes.Length; i++)
            {
                Set($"{nameof(ServerOptions.ApiKeyHashes)}:{i}", hashes[i]);
            }
            return overrides;
        }
    }
}
