using System.CommandLine;
using RealtimeSer.Audio.Capture;
using RealtimeSer.Cli.Listen;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;

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
            Description = "Send audio to a RealtimeSer server (URL).",
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
        var model = new ModelOptions();
        var command = new Command("listen", "Live emotion recognition from a microphone (Ctrl+C stops).")
        {
            device,
            json,
            seconds,
            server,
            rate,
            blockMs,
            window,
            hop,
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    if (parse.GetValue(server) is not null)
                    {
                        await Console.Error.WriteLineAsync(
                            "ser: error: listen --server is not yet supported in this build; use `ser stream` to send audio to a server"
                        );
                        return CliErrors.Failure;
                    }
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
                    try
                    {
                        using var host = PortAudioHost.Open();
                        var input = host.FindInput(parse.GetValue(device));
                        using var classifier = model.Load(parse, announce: output != ListenOutput.View);
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
                        await using var engine = new EmotionEngine(classifier, vad, options);
                        var sampleRate = parse.GetValue(rate) ?? input.DefaultSampleRate;
                        using var capture = host.OpenCapture(
                            input,
                            channels: 1,
                            sampleRate,
                            framesPerBlock: (int)Math.Round(sampleRate * parse.GetValue(blockMs) / 1000.0)
                        );
                        if (output != ListenOutput.View)
                        {
                            await Console.Error.WriteLineAsync(
                                $"ser: listening on {input.Index}: {input.Name} ({input.HostApi}) at {capture.SampleRate} Hz; Ctrl+C stops"
                            );
                        }
                        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        if (parse.GetValue(seconds) is { } s)
                        {
                            limit.CancelAfter(TimeSpan.FromSeconds(s));
                        }
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
    }
}
