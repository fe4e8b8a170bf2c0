using System.CommandLine;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Vad;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser vad FILE...</c>: one JSON line per speech segment.</summary>
internal static class VadCommand
{
    public static Command Create() =>
        CliCommand.Create(
            "vad",
            "Detect speech; print one JSON line per segment: channel, start_s, end_s.",
            command => new Options(command),
            RunAsync
        );

    private static async Task<int> RunAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        var options = o.Detection(parse);
        options.Validate();
        var arguments = parse.GetValue(o.Files)!;
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
        var mode = parse.GetValue(o.Mix) ? ChannelMode.Mix : ChannelMode.Split;
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
                        stdout.WriteLine(FormatSegment(named ? input.Display : null, channel, segment)),
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
    }

    internal static string FormatSegment(string? file, int channel, SpeechSegment segment) =>
        JsonLine.Of(json =>
        {
            if (file is not null)
            {
                json.WriteString("file", file);
            }
            json.WriteNumber("channel", channel);
            json.WriteNumber("start_s", Math.Round(segment.StartSeconds, 3));
            json.WriteNumber("end_s", Math.Round(segment.EndSeconds, 3));
        });

    private sealed class Options(Command command)
    {
        public Argument<string[]> Files { get; } =
            command.AddArgument(
                new Argument<string[]>("file")
                {
                    Description =
                        "Audio files (WAV natively; mp3, opus, flac, ... through ffmpeg), directories (searched "
                        + "recursively) or globs (*, ?, **), as for `ser replay`.",
                    Arity = ArgumentArity.OneOrMore,
                }
            );

        public Option<bool> Mix { get; } =
            command.AddOption<bool>("--mix", "Downmix all channels to one instead of analysing each.");

        public Option<float> Threshold { get; } =
            command.AddOption<float>(
                "--threshold",
                "Speech start threshold.",
                VadOptions.Default.StartThreshold
            );

        public Option<float> EndThreshold { get; } =
            command.AddOption<float>(
                "--end-threshold",
                "Speech end threshold (hysteresis).",
                VadOptions.Default.EndThreshold
            );

        public Option<int> MinSpeech { get; } =
            command.AddOption<int>("--min-speech-ms", null, VadOptions.Default.MinSpeechMs);

        public Option<int> MinSilence { get; } =
            command.AddOption<int>("--min-silence-ms", null, VadOptions.Default.MinSilenceMs);

        public Option<int> Pad { get; } =
            command.AddOption<int>("--speech-pad-ms", null, VadOptions.Default.SpeechPadMs);

        public Option<double> MaxSegment { get; } =
            command.AddOption<double>(
                "--max-segment-s",
                "Split speech longer than this.",
                VadOptions.Default.MaxSegmentSeconds
            );

        public VadOptions Detection(ParseResult parse) =>
            new()
            {
                StartThreshold = parse.GetValue(Threshold),
                EndThreshold = parse.GetValue(EndThreshold),
                MinSpeechMs = parse.GetValue(MinSpeech),
                MinSilenceMs = parse.GetValue(MinSilence),
                SpeechPadMs = parse.GetValue(Pad),
                MaxSegmentSeconds = parse.GetValue(MaxSegment),
            };
    }
}
