using System.CommandLine;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Output;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser classify INPUT...</c>: the label and scores of each whole clip (files, directories, globs).</summary>
internal static class ClassifyCommand
{
    public static Command Create() =>
        CliCommand.Create(
            "classify",
            "Classify whole clips: print each file's label and scores.",
            command => new Options(command),
            RunAsync
        );

    private static async Task<int> RunAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        using var classifier = o.Model.Load(parse, announce: !parse.GetValue(o.Json));
        var problems = new List<string>();
        var inputs = InputExpander.ExpandFiles(parse.GetValue(o.Files)!, problems);
        foreach (var problem in problems)
        {
            await Console.Error.WriteLineAsync($"ser: {problem}");
        }
        var failed = problems.Count;
        if (inputs.Count == 0)
        {
            if (problems.Count == 0)
            {
                await Console.Error.WriteLineAsync(
                    $"ser: nothing to do: no audio files in {string.Join(", ", parse.GetValue(o.Files)!)}"
                );
            }
            return CliErrors.Failure;
        }
        var speaker = parse.GetValue(o.OneSpeaker) ? await SpeakerAdapterAsync(classifier) : null;
        foreach (var input in inputs)
        {
            var file = input.Display;
            try
            {
                var audio = await AudioLoader.ReadMono16kAsync(input.Path, ct);
                var result = await ClipClassifier.ClassifyAsync(classifier, audio, ct, speaker);
                Console.WriteLine(parse.GetValue(o.Json) ? ToJson(file, result) : ToText(file, result));
            }
            catch (Exception e) when (e is RealtimeSer.Audio.AudioFormatException or FileNotFoundException)
            {
                failed++;
                await Console.Error.WriteLineAsync($"ser: {file}: {e.Message}");
            }
        }
        return failed == 0 ? 0 : CliErrors.Failure;
    }

    /// <summary>What carries one speaker's voice from file to file; null (said on stderr) for a model that does not adapt.</summary>
    private static async Task<IChannelAdapter?> SpeakerAdapterAsync(OnnxEmotionClassifier classifier)
    {
        if (classifier is IChannelAdaptiveClassifier { AdaptsPerChannel: true } adaptive)
        {
            return adaptive.CreateChannelAdapter();
        }
        await Console.Error.WriteLineAsync(
            $"ser: model {classifier.Manifest.Id} does not adapt to the speaker: "
                + "--one-speaker changes nothing (general6 does)"
        );
        return null;
    }

    private static string ToText(string file, ClipResult r) =>
        $"{file}: {r.Label} ({r.Scores.Max():P0})  "
        + string.Join("  ", r.Labels.Select((l, i) => $"{l} {r.Scores[i]:0.00}"));

    internal static string ToJson(string file, ClipResult r) =>
        JsonLine.Of(json =>
        {
            json.WriteString("file", file);
            json.WriteString("label", r.Label);
            EventJson.WriteScores(json, r.Labels, r.Scores, 5);
        });

    private sealed class Options(Command command)
    {
        public Argument<string[]> Files { get; } =
            command.AddArgument(
                new Argument<string[]>("file")
                {
                    Arity = ArgumentArity.OneOrMore,
                    Description =
                        "Audio clips: files, directories (searched recursively) or globs (*, ?, **), as for `ser replay`.",
                }
            );

        public Option<bool> Json { get; } =
            command.AddOption<bool>("--json", "One JSON line per file: {\"file\",\"label\",\"scores\"}.");

        public Option<bool> OneSpeaker { get; } =
            command.AddOption<bool>(
                "--one-speaker",
                "The files are one speaker's recordings, in the order given: a model that adapts to the speaker "
                    + "(general6) carries what it learned of the voice from each file to the next. Without it each file "
                    + "is judged on its own."
            );

        public ModelOptions Model { get; } = command.AddModelOptions();
    }
}
