using System.CommandLine;
using System.Text.Json;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Output;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser classify INPUT...</c>: the label and scores of each whole clip (files, directories, globs).</summary>
internal static class ClassifyCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("file")
        {
            Arity = ArgumentArity.OneOrMore,
            Description =
                "Audio clips: files, directories (searched recursively) or globs (*, ?, **), as for `ser replay`.",
        };
        var json = new Option<bool>("--json")
        {
            Description = "One JSON line per file: {\"file\",\"label\",\"scores\"}.",
        };
        var oneSpeaker = new Option<bool>("--one-speaker")
        {
            Description =
                "The files are one speaker's recordings, in the order given: a model that adapts to the speaker "
                + "(general6) carries what it learned of the voice from each file to the next. Without it each file "
                + "is judged on its own.",
        };
        var model = new ModelOptions();
        var command = new Command("classify", "Classify whole clips: print each file's label and scores.")
        {
            files,
            json,
            oneSpeaker,
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    using var classifier = model.Load(parse, announce: !parse.GetValue(json));
                    var problems = new List<string>();
                    var inputs = InputExpander.ExpandFiles(parse.GetValue(files)!, problems);
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
                                $"ser: nothing to do: no audio files in {string.Join(", ", parse.GetValue(files)!)}"
                            );
                        }
                        return CliErrors.Failure;
                    }
                    IChannelAdapter? speaker = null;
                    if (parse.GetValue(oneSpeaker))
                    {
                        if (classifier is IChannelAdaptiveClassifier { AdaptsPerChannel: true } adaptive)
                        {
                            speaker = adaptive.CreateChannelAdapter();
                        }
                        else
                        {
                            await Console.Error.WriteLineAsync(
                                $"ser: model {classifier.Manifest.Id} does not adapt to the speaker: "
                                    + "--one-speaker changes nothing (general6 does)"
                            );
                        }
                    }
                    foreach (var input in inputs)
                    {
                        var file = input.Display;
                        try
                        {
                            var audio = await AudioLoader.ReadMono16kAsync(input.Path, ct);
                            var result = await ClipClassifier.ClassifyAsync(classifier, audio, ct, speaker);
                            Console.WriteLine(
                                parse.GetValue(json) ? ToJson(file, result) : ToText(file, result)
                            );
                        }
                        catch (Exception e)
                            when (e is RealtimeSer.Audio.AudioFormatException or FileNotFoundException)
                        {
                            failed++;
                            await Console.Error.WriteLineAsync($"ser: {file}: {e.Message}");
                        }
                    }
                    return failed == 0 ? 0 : CliErrors.Failure;
                })
        );
        return command;
    }

    private static string ToText(string file, ClipResult r) =>
        $"{file}: {r.Label} ({r.Scores.Max():P0})  "
        + string.Join("  ", r.Labels.Select((l, i) => $"{l} {r.Scores[i]:0.00}"));

    internal static string ToJson(string file, ClipResult r)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("file", file);
            json.WriteString("label", r.Label);
            EventJson.WriteScores(json, r.Labels, r.Scores, 5);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
