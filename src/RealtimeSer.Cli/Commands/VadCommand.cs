using System.CommandLine;
using System.Text;
using System.Text.Json;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Vad;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser vad FILE...</c>: one JSON line per speech segment.</summary>
internal static class VadCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("file")
        {
            Description =
                "Audio files (WAV natively; mp3, opus, flac, ... through ffmpeg), directories (searched "
                + "recursively) or globs (*, ?, **), as for `ser replay`.",
            Arity = ArgumentArity.OneOrMore,
        };
        var mix = new Option<bool>("--mix")
        {
            Description = "Downmix all channels to one instead of analysing each.",
        };
        var threshold = new Option<float>("--threshold")
        {
            Description = "Speech start threshold.",
            DefaultValueFactory = _ => VadOptions.Default.StartThreshold,
        };
        var endThreshold = new Option<float>("--end-threshold")
        {
            Description = "Speech end threshold (hysteresis).",
            DefaultValueFactory = _ => VadOptions.Default.EndThreshold,
        };
        var minSpeech = new Option<int>("--min-speech-ms")
        {
            DefaultValueFactory = _ => VadOptions.Default.MinSpeechMs,
        };
        var minSilence = new Option<int>("--min-silence-ms")
        {
            DefaultValueFactory = _ => VadOptions.Default.MinSilenceMs,
        };
        var pad = new Option<int>("--speech-pad-ms")
        {
            DefaultValueFactory = _ => VadOptions.Default.SpeechPadMs,
        };
        var maxSegment = new Option<double>("--max-segment-s")
        {
            Description = "Split speech longer than this.",
            DefaultValueFactory = _ => VadOptions.Default.MaxSegmentSeconds,
        };

        var command = new Command(
            "vad",
            "Detect speech; print one JSON line per segment: channel, start_s, end_s."
        )
        {
            files,
            mix,
            threshold,
            endThreshold,
            minSpeech,
            minSilence,
            pad,
            maxSegment,
        };
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    var options = new VadOptions
                    {
                        StartThreshold = parse.GetValue(threshold),
                        EndThreshold = parse.GetValue(endThreshold),
                        MinSpeechMs = parse.GetValue(minSpeech),
                        MinSilenceMs = parse.GetValue(minSilence),
                        SpeechPadMs = parse.GetValue(pad),
                        MaxSegmentSeconds = parse.GetValue(maxSegment),
                    };
                    options.Validate();
                    var arguments = parse.GetValue(files)!;
                    var problems = new List<string>();
                    var inputs = InputExpander.ExpandFiles(arguments, problems);
                    foreach (var problem in problems)
                    {
                        await Console.Error.WriteLineAsync($"ser: error: {problem}");
                    }
                    if (inputs.Count == 0)
                    {
                        if (problems.Count == 0)
                        {
                            await Console.Error.WriteLineAsync(
                                $"ser: nothing to do: no audio files in {string.Join(", ", arguments)}"
                            );
                        }
                        return CliErrors.Failure;
                    }
                    // One named file prints bare segments; anything that can name several adds "file".
                    var named = inputs.Count > 1 || arguments.Length > 1 || !File.Exists(arguments[0]);
                    var mode = parse.GetValue(mix) ? ChannelMode.Mix : ChannelMode.Split;
                    using var model = SileroVadModel.Load();
                    var stdout = Console.Out;
                    var failed = problems.Count;
                    foreach (var input in inputs)
                    {
                        try
                        {
                            await FileVad.DetectAsync(
                                input.Path,
                                model,
                                (channel, segment) =>
                                    stdout.WriteLine(
                                        FormatSegment(named ? input.Display : null, channel, segment)
                                    ),
                                options,
                                mode,
                                ct
                            );
                        }
                        catch (Exception e)
                            when (e is AudioFormatException or FileNotFoundException or InvalidDataException)
                        {
                            // The other files still count: report this one and go on, as classify does.
                            failed++;
                            await Console.Error.WriteLineAsync(
                                e.Message.Contains(input.Path, StringComparison.Ordinal)
                                    ? $"ser: error: {e.Message}"
                                    : $"ser: error: {input.Display}: {e.Message}"
                            );
                        }
                    }
                    await stdout.FlushAsync(ct);
                    return failed == 0 ? 0 : CliErrors.Failure;
                })
        );
        return command;
    }

    internal static string FormatSegment(string? file, int channel, SpeechSegment segment)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (file is not null)
            {
                json.WriteString("file", file);
            }
            json.WriteNumber("channel", channel);
            json.WriteNumber("start_s", Math.Round(segment.StartSeconds, 3));
            json.WriteNumber("end_s", Math.Round(segment.EndSeconds, 3));
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
