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
    public static Command Create()
    {
        var device = new Option<string?>("--device", "-d")
        {
            Description =
                "Input device: index or (part of) the name from `ser devices`; default: the default input.",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print events as JSON lines (the `ser replay` schema).",
        };
        var seconds = new Option<double?>("--seconds") { Description = "Stop after this many seconds." };
        var server = new Option<string?>("--server")
        {
            Description =
                "Send the microphone to a running `ser serve` (URL: http:// for cleartext HTTP/2, https:// for TLS) instead of the in-process engine.",
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "With --server: sent as authorization: Bearer <key>.",
        };
        var reconnect = new Option<bool>("--reconnect")
        {
            Description =
                "With --server: on UNAVAILABLE, reconnect with backoff and go on from the current position.",
        };
        var rate = new Option<int?>("--rate")
        {
            Description = "Capture sample rate (default: the device's).",
        };
        var blockMs = new Option<int>("--block-ms")
        {
            Description = "Capture block length in milliseconds.",
            DefaultValueFactory = _ => 20,
        };
        var window = new Option<double?>("--window")
        {
            Description = "Window seconds (default: the model's).",
        };
        var hop = new Option<double?>("--hop") { Description = "Hop seconds (default: the model's)." };
        var verbose = DevicesCommand.NativeOutputOption();
        var model = new ModelOptions();
        var command = new Command("listen", "Live emotion recognition from a microphone (Ctrl+C stops).")
        {
            device,
            json,
            seconds,
            server,
            apiKey,
            reconnect,
            rate,
            blockMs,
            window,
            hop,
            verbose,
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    if (parse.GetValue(seconds) is <= 0)
                    {
                        throw new ArgumentException("--seconds must be positive");
                    }
                    if (parse.GetValue(blockMs) is < 5 or > 500)
                    {
                        throw new ArgumentException("--block-ms must be between 5 and 500");
                    }
                    var output =
                        parse.GetValue(json) ? ListenOutput.Json
                        : Console.IsOutputRedirected ? ListenOutput.Text
                        : ListenOutput.View;
                    if (parse.GetValue(server) is { } url)
                    {
                        return await RunRemoteAsync(parse, new Uri(url), output, ct);
                    }
                    try
                    {
                        using var host = PortAudioHost.Open(parse.GetValue(verbose));
                        var input = host.FindInput(parse.GetValue(device));
                        using var loaded = model.LoadAll(parse, announce: output != ListenOutput.View);
                        using var vad = SileroVadModel.Load();
                        var options = new EngineOptions
                        {
                            Overload = OverloadPolicy.DropOldest,
                            WindowSeconds = parse.GetValue(window),
                            HopSeconds = parse.GetValue(hop),
                            // One live stream: a short queue bounds latency; older windows go first when behind.
                            QueueCapacity = 16,
                            MaxBatch = 8,
                        };
                        await using var engine = new EmotionEngine(loaded.Classifiers, vad, options);
                        using var capture = await OpenCaptureAsync(parse, host, input, output, target: null);
                        using var limit = Limit(parse, ct);
                        return await new ListenRunner(engine, capture, output).RunAsync(limit.Token);
                    }
                    catch (PortAudioException e)
                    {
                        await Console.Error.WriteLineAsync($"ser: error: {e.Message}");
                        return CliErrors.Failure;
                    }
                })
        );
        return command;

        async Task<int> RunRemoteAsync(
            ParseResult parse,
            Uri address,
            ListenOutput output,
            CancellationToken ct
        )
        {
            using var channel = new SerChannel(address, parse.GetValue(apiKey));
            var client = channel.Recognizer;
            var modelIds = model.Ids(parse);
            var modelId = modelIds.Count > 0 ? modelIds[0] : "";
            IReadOnlyList<string> labels = [];
            try
            {
                // Asks for the labels (the view shows them before the first result) and finds an unreachable
                // server or a bad key before the microphone opens.
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                var models = await client.ListModelsAsync(
                    new ListModelsRequest(),
                    cancellationToken: timeout.Token
                );
                var info = models.Models.FirstOrDefault(m =>
                    modelId.Length == 0 ? m.IsDefault : m.Id == modelId
                );
                labels = info?.Labels.ToList() ?? [];
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
                if (!parse.GetValue(reconnect))
                {
                    await Console.Error.WriteLineAsync(
                        e is RpcException r ? ConnectionMessages.Failure(channel, r) : $"ser: {why}"
                    );
                    return CliErrors.Failure;
                }
                // With --reconnect the server may come back; the stream itself retries.
                await Console.Error.WriteLineAsync($"ser: {why}; the stream will retry (--reconnect)");
            }
            var config = RemoteModels.Config(modelIds);
            config.InterimResults = true;
            if (parse.GetValue(window) is { } w)
            {
                config.WindowSeconds = w;
            }
            if (parse.GetValue(hop) is { } h)
            {
                config.HopSeconds = h;
            }
            var policy = parse.GetValue(reconnect) ? new ReconnectPolicy() : ReconnectPolicy.None;
            try
            {
                using var host = PortAudioHost.Open(parse.GetValue(verbose));
                var input = host.FindInput(parse.GetValue(device));
                using var capture = await OpenCaptureAsync(parse, host, input, output, address.ToString());
                using var limit = Limit(parse, ct);
                var backend = new RemoteListenBackend(channel, config, policy, labels);
                return await new ListenRunner(backend, capture, output)
                {
                    Target = address.ToString(),
                }.RunAsync(limit.Token);
            }
            catch (PortAudioException e)
            {
                await Console.Error.WriteLineAsync($"ser: error: {e.Message}");
                return CliErrors.Failure;
            }
            catch (RpcException e)
            {
                await Console.Error.WriteLineAsync(ConnectionMessages.Failure(channel, e));
                return CliErrors.Failure;
            }
        }

        // Mono capture at --rate (default: the device's) in --block-ms blocks, announced unless the live view
        // owns the terminal.
        async Task<CaptureStream> OpenCaptureAsync(
            ParseResult parse,
            PortAudioHost host,
            AudioDevice input,
            ListenOutput output,
            string? target
        )
        {
            var sampleRate = parse.GetValue(rate) ?? input.DefaultSampleRate;
            var capture = host.OpenCapture(
                input,
                channels: 1,
                sampleRate,
                framesPerBlock: (int)Math.Round(sampleRate * parse.GetValue(blockMs) / 1000.0)
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

        CancellationTokenSource Limit(ParseResult parse, CancellationToken ct)
        {
            var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (parse.GetValue(seconds) is { } s)
            {
                limit.CancelAfter(TimeSpan.FromSeconds(s));
            }
            return limit;
        }
    }
}
