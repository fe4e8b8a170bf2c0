using System.CommandLine;
using Grpc.Core;
using RealtimeSer.Audio.Capture;
using RealtimeSer.Cli.Listen;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser listen</c>: live emotion recognition from a microphone.</summary>
internal static class ListenCommand
{
    public static Command Create() =>
        CliCommand.Create(
            "listen",
            "Live emotion recognition from a microphone (Ctrl+C stops).",
            command => new Options(command),
            RunAsync
        );

    private static async Task<int> RunAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        if (parse.GetValue(o.Seconds) is <= 0)
        {
            throw new ArgumentException("--seconds must be positive");
        }
        if (parse.GetValue(o.BlockMs) is < 5 or > 500)
        {
            throw new ArgumentException("--block-ms must be between 5 and 500");
        }
        var output =
            parse.GetValue(o.Json) ? ListenOutput.Json
            : Console.IsOutputRedirected ? ListenOutput.Text
            : ListenOutput.View;
        if (parse.GetValue(o.Server) is { } url)
        {
            return await RunRemoteAsync(o, parse, new Uri(url), output, ct);
        }
        // A missing or busy device (PortAudioException) becomes one line through CliErrors.
        using var host = PortAudioHost.Open(parse.GetValue(o.Verbose));
        var input = host.FindInput(parse.GetValue(o.Device));
        using var loaded = o.Model.LoadAll(parse, announce: output != ListenOutput.View);
        using var vad = SileroVadModel.Load();
        var options = new EngineOptions
        {
            Overload = OverloadPolicy.DropOldest,
            Streams = new StreamOptions
            {
                WindowSeconds = parse.GetValue(o.Window),
                HopSeconds = parse.GetValue(o.Hop),
            },
            // One live stream: a short queue bounds latency; older windows go first when behind.
            QueueCapacity = 16,
            MaxBatch = 8,
        };
        await using var engine = new EmotionEngine(loaded.Classifiers, vad, options);
        using var capture = await OpenCaptureAsync(o, parse, host, input, output, target: null);
        using var limit = Limit(o, parse, ct);
        return await new ListenRunner(engine, capture, output).RunAsync(limit.Token);
    }

    private static async Task<int> RunRemoteAsync(
        Options o,
        ParseResult parse,
        Uri address,
        ListenOutput output,
        CancellationToken ct
    )
    {
        using var channel = new SerChannel(address, parse.GetValue(o.ApiKey));
        var modelIds = o.Model.Ids(parse);
        var labels = await LabelsAsync(
            channel,
            address,
            modelIds.Count > 0 ? modelIds[0] : "",
            parse.GetValue(o.Reconnect),
            ct
        );
        if (labels is null)
        {
            return CliErrors.Failure;
        }
        var config = RemoteModels.Config(modelIds);
        config.InterimResults = true;
        if (parse.GetValue(o.Window) is { } w)
        {
            config.WindowSeconds = w;
        }
        if (parse.GetValue(o.Hop) is { } h)
        {
            config.HopSeconds = h;
        }
        var policy = parse.GetValue(o.Reconnect) ? new ReconnectPolicy() : ReconnectPolicy.None;
        try
        {
            using var host = PortAudioHost.Open(parse.GetValue(o.Verbose));
            var input = host.FindInput(parse.GetValue(o.Device));
            using var capture = await OpenCaptureAsync(o, parse, host, input, output, address.ToString());
            using var limit = Limit(o, parse, ct);
            var backend = new RemoteListenBackend(channel, config, policy, labels);
            return await new ListenRunner(backend, capture, output) { Target = address.ToString() }.RunAsync(
                limit.Token
            );
        }
        catch (RpcException e)
        {
            await Console.Error.WriteLineAsync(ConnectionMessages.Failure(channel, e));
            return CliErrors.Failure;
        }
    }

    /// <summary>
    /// The model's labels, which the view shows before the first result; asking also finds an unreachable server
    /// or a bad key before the microphone opens. Null when the server cannot be used (said on stderr); with
    /// <paramref name="reconnect"/> the server may come back, so that is no failure: no labels, and the stream retries.
    /// </summary>
    private static async Task<IReadOnlyList<string>?> LabelsAsync(
        SerChannel channel,
        Uri address,
        string modelId,
        bool reconnect,
        CancellationToken ct
    )
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var models = await channel.Recognizer.ListModelsAsync(
                new ListModelsRequest(),
                cancellationToken: timeout.Token
            );
            var info = models.Models.FirstOrDefault(m => modelId.Length == 0 ? m.IsDefault : m.Id == modelId);
            return info?.Labels.ToList() ?? [];
        }
        catch (Exception e)
            when (e is RpcException or HttpRequestException or OperationCanceledException
                && !ct.IsCancellationRequested
            )
        {
            var why = e switch
            {
                RpcException g => channel.Explain(g),
                OperationCanceledException => $"no answer from {address} within 10 s",
                _ => e.Message,
            };
            if (!reconnect)
            {
                await Console.Error.WriteLineAsync(
                    e is RpcException r ? ConnectionMessages.Failure(channel, r) : $"ser: {why}"
                );
                return null;
            }
            await Console.Error.WriteLineAsync($"ser: {why}; the stream will retry (--reconnect)");
            return [];
        }
    }

    /// <summary>
    /// Mono capture at --rate (default: the device's) in --block-ms blocks, announced unless the live view owns
    /// the terminal.
    /// </summary>
    private static async Task<CaptureStream> OpenCaptureAsync(
        Options o,
        ParseResult parse,
        PortAudioHost host,
        AudioDevice input,
        ListenOutput output,
        string? target
    )
    {
        var sampleRate = parse.GetValue(o.Rate) ?? input.DefaultSampleRate;
        var capture = host.OpenCapture(
            input,
            channels: 1,
            sampleRate,
            framesPerBlock: (int)Math.Round(sampleRate * parse.GetValue(o.BlockMs) / 1000.0)
        );
        try
        {
            if (output != ListenOutput.View)
            {
                var sending = target is null ? "" : $", sending to {target}";
                await Console.Error.WriteLineAsync(
                    $"ser: listening on {input.Index}: {input.Name} ({input.HostApi}) at {capture.SampleRate} Hz{sending}; Ctrl+C stops"
                );
            }
            return capture;
        }
        catch
        {
            capture.Dispose();
            throw;
        }
    }

    private static CancellationTokenSource Limit(Options o, ParseResult parse, CancellationToken ct)
    {
        var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (parse.GetValue(o.Seconds) is { } s)
        {
            limit.CancelAfter(TimeSpan.FromSeconds(s));
        }
        return limit;
    }

    private sealed class Options(Command command)
    {
        public Option<string?> Device { get; } =
            command.AddOption(
                new Option<string?>("--device", "-d")
                {
                    Description =
                        "Input device: index or (part of) the name from `ser devices`; default: the default input.",
                }
            );

        public Option<bool> Json { get; } =
            command.AddOption<bool>("--json", "Print events as JSON lines (the `ser replay` schema).");

        public Option<double?> Seconds { get; } =
            command.AddOption<double?>("--seconds", "Stop after this many seconds.");

        public Option<string?> Server { get; } =
            command.AddOption(
                SharedOptions.Server(
                    "Send the microphone to a running `ser serve` (URL: http:// for cleartext HTTP/2, https:// for TLS) instead of the in-process engine."
                )
            );

        public Option<string?> ApiKey { get; } = command.AddOption(SharedOptions.ApiKey());

        public Option<bool> Reconnect { get; } =
            command.AddOption<bool>(
                "--reconnect",
                "With --server: on UNAVAILABLE, reconnect with backoff and go on from the current position."
            );

        public Option<int?> Rate { get; } =
            command.AddOption<int?>("--rate", "Capture sample rate (default: the device's).");

        public Option<int> BlockMs { get; } =
            command.AddOption<int>("--block-ms", "Capture block length in milliseconds.", 20);

        public Option<double?> Window { get; } = command.AddOption(SharedOptions.Window());

        public Option<double?> Hop { get; } = command.AddOption(SharedOptions.Hop());

        public Option<bool> Verbose { get; } = command.AddOption(DevicesCommand.NativeOutputOption());

        public ModelOptions Model { get; } = command.AddModelOptions();
    }
}
