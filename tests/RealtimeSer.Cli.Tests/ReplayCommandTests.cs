using System.Text.Json;
using RealtimeSer.Core.Models;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Cli.Tests;

/// <summary>The streaming-engine issue's bars, through <c>ser replay</c> with the installed default model.</summary>
public sealed class ReplayCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"ser-replay-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    private static ModelManifest RequireModel()
    {
        try
        {
            return ModelCatalog.Resolve(null);
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"no emotion model installed: {e.Message}");
        }
    }

    private static List<JsonElement> ReadJsonl(string path) =>
        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    /// <summary>
    /// Turn label agreement on call01 (finals' duration-weighted vote per truth turn, both channels) measured on
    /// this commit's models, and the number of turns it counts: the floor is measured − 2.33 standard errors of a
    /// proportion over those turns (<see cref="AccuracyFloor"/>). With 28 turns the margin is about 22 points,
    /// so general6's floor here is below the manifest-derived one above, which stays.
    /// general6 and arousal3a adapt per channel through the whole call, as any replay does. arousal3 and arousal3a
    /// are judged on the level of the turn's emotion (disgust turns left out). Re-measure after retraining: the
    /// tests print the agreement.
    /// </summary>
    private static readonly Dictionary<(string Model, string File), (double Measured, int N)> CallFloors =
        new()
        {
            [("general6", "call01_stereo16k")] = (14 / 28.0, 28), // 14/28 = 50.0 % → floor 28.0 %
            [("general6", "call01_mulaw8k")] = (14 / 28.0, 28), // 14/28 = 50.0 % → floor 28.0 %
            [("crema6", "call01_stereo16k")] = (20 / 28.0, 28), // 20/28 = 71.4 % → floor 51.5 %
            [("multi6", "call01_stereo16k")] = (14 / 28.0, 28), // 14/28 = 50.0 % → floor 28.0 %
            [("arousal3", "call01_stereo16k")] = (8 / 23.0, 23), // 8/23 = 34.8 % → floor 11.6 % (5 disgust turns left out)
            [("arousal3a", "call01_stereo16k")] = (15 / 23.0, 23), // 15/23 = 65.2 % → floor 42.1 % (5 disgust turns left out)
        };

    [SkippableFact]
    public async Task Replay_of_call01_covers_truth_speech_and_agrees_with_truth_labels()
    {
        var manifest = RequireModel();
        var stereo = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        var mulaw = CliRunner.RequireShared("fixtures/calls/call01_mulaw8k.wav");
        var truth = SpeechScoring.LoadTruth(CliRunner.RequireShared("fixtures/calls/call01_truth.json"));
        var clipAccuracy = ModelMetrics.TestAccuracy(manifest);

        var (exit, _, stderr) = await CliRunner.RunAsync(
            "replay",
            stereo,
            mulaw,
            "--out",
            _out,
            "--channels",
            "agent,customer",
            "--quiet"
        );
        Assert.True(exit == 0, stderr);

        foreach (var name in new[] { "call01_stereo16k", "call01_mulaw8k" })
        {
            var events = ReadJsonl(Path.Combine(_out, name + ".jsonl"));
            Assert.NotEmpty(events);
            int agreeAll = 0,
                turnsAll = 0;
            for (var channel = 0; channel < 2; channel++)
            {
                var mine = events.Where(e => e.GetProperty("channel").GetInt32() == channel).ToList();
                Assert.NotEmpty(mine);
                Assert.All(
                    mine,
                    e =>
                        Assert.Equal(
                            channel == 0 ? "agent" : "customer",
                            e.GetProperty("channel_name").GetString()
                        )
                );
                var finals = mine.Where(e => e.GetProperty("final").GetBoolean())
                    .Select(e =>
                        (
                            Start: e.GetProperty("start_s").GetDouble(),
                            End: e.GetProperty("end_s").GetDouble(),
                            Label: e.GetProperty("label").GetString()!
                        )
                    )
                    .ToList();
                // Order: events (interim and final) of a channel never go back in segment order.
                var segments = mine.Select(e => e.GetProperty("segment").GetInt32()).ToList();
                Assert.Equal(segments.Order(), segments);
                Assert.Equal(finals.OrderBy(f => f.Start).ToList(), finals);

                var score = SpeechScoring.ScoreChannel(truth, channel, finals.Select(f => (f.Start, f.End)));
                var (agree, turns) = SpeechScoring.TurnLabelAgreement(truth, channel, finals);
                agreeAll += agree;
                turnsAll += turns;
                output.WriteLine(
                    $"{name} channel {channel}: {finals.Count} finals, recall {score.Recall:F3}, turn labels {agree}/{turns}"
                );
                Assert.True(
                    score.Recall >= 0.95,
                    $"{name} channel {channel}: speech recall {score.Recall:F3} < 0.95"
                );
            }
            // Turn labels are judged over the whole call: with 14 turns a channel, one speaker the model
            // happens to misjudge would otherwise decide the test. The issue's bar is the model's clip-level
            // test accuracy minus 10 points. With 28 turns one turn is 3.6 points and the standard error of the
            // agreement about 9, so this test fails when the agreement is significantly below the bar (by more
            // than 1.96 standard errors: a pipeline fault, such as finals for the wrong segment, lands far
            // lower); whether the point estimate meets the bar is printed and recorded in docs/benchmarks.md.
            var agreement = agreeAll / (double)turnsAll;
            var bar = clipAccuracy - 0.10;
            var floor = bar - 1.96 * Math.Sqrt(bar * (1 - bar) / turnsAll);
            output.WriteLine(
                $"{name}: turn label agreement {agreement:P1} ({agreeAll}/{turnsAll}), model clip accuracy "
                    + $"{clipAccuracy:P1}, bar {bar:P1} {(agreement >= bar ? "met" : "NOT met")}, floor {floor:P1}"
            );
            Assert.True(
                agreement >= floor,
                $"{name}: turn label agreement {agreement:P1} is significantly below clip accuracy "
                    + $"{clipAccuracy:P1} − 10 points (floor {floor:P1})"
            );
            // The same turns against a floor fixed from today's measurement, which a change to the manifest's own
            // figure cannot move (see CallFloors).
            var (measured, n) = CallFloors[(manifest.Id, name)];
            var fixedFloor = AccuracyFloor.Of(measured, n);
            output.WriteLine(
                $"{name}: {manifest.Id} recorded {measured:P1} (n {n}), fixed floor {fixedFloor:P1}"
            );
            Assert.Equal(n, turnsAll);
            Assert.True(
                agreement >= fixedFloor,
                $"{name}: turn label agreement {agreement:P1} is below the fixed floor {fixedFloor:P1} "
                    + $"({manifest.Id} measured {measured:P1} − 2.33 standard errors of {n} turns)"
            );
            using var summary = JsonDocument.Parse(
                File.ReadAllText(Path.Combine(_out, name + ".summary.json"))
            );
            Assert.Equal(2, summary.RootElement.GetProperty("channels").GetArrayLength());
            Assert.InRange(summary.RootElement.GetProperty("duration_s").GetDouble(), 195, 196);
            Assert.Equal(0, summary.RootElement.GetProperty("windows_dropped").GetInt64());
        }
        Assert.Empty(Directory.GetFiles(_out, "*.tmp", SearchOption.AllDirectories));
    }

    /// <summary>
    /// The default model with every other shipped model (crema6, multi6, arousal3, arousal3a) in one replay: each
    /// event carries each model's label and scores, in order, and each model's finals agree with the call's truth
    /// at least as well as its fixed floor (<see cref="CallFloors"/>; the default model's is checked above).
    /// </summary>
    [SkippableFact]
    public async Task Replay_with_emotion_and_arousal_gives_both_on_every_event_in_order()
    {
        var emotion = RequireModel();
        var others = new List<ModelManifest>();
        foreach (var id in new[] { "crema6", "multi6", "arousal3", "arousal3a" })
        {
            try
            {
                others.Add(ModelCatalog.Resolve(id));
            }
            catch (FileNotFoundException e)
            {
                throw new SkipException($"{id} is not installed: {e.Message}");
            }
        }
        var arousal = others[^1];
        List<ModelManifest> all = [emotion, .. others];
        var stereo = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        var truth = SpeechScoring.LoadTruth(CliRunner.RequireShared("fixtures/calls/call01_truth.json"));

        var (exit, _, stderr) = await CliRunner.RunAsync(
            "replay",
            stereo,
            "--out",
            _out,
            "--channels",
            "agent,customer",
            "--model",
            string.Join(',', all.Select(m => m.Id)),
            "--quiet"
        );
        Assert.True(exit == 0, stderr);

        var events = ReadJsonl(Path.Combine(_out, "call01_stereo16k.jsonl"));
        Assert.Contains(events, e => e.GetProperty("final").GetBoolean());
        foreach (var e in events)
        {
            var models = e.GetProperty("models").EnumerateObject().ToList();
            Assert.Equal(all.Select(m => m.Id), models.Select(m => m.Name));
            Assert.Equal(
                e.GetProperty("label").GetString(),
                models[0].Value.GetProperty("label").GetString()
            );
            for (var m = 1; m < all.Count; m++)
            {
                var label = models[m].Value.GetProperty("label").GetString();
                Assert.Contains(label, all[m].Labels);
                var scores = models[m].Value.GetProperty("scores").EnumerateObject().ToList();
                Assert.Equal(all[m].Labels, scores.Select(p => p.Name));
                Assert.Equal(1, scores.Sum(p => p.Value.GetDouble()), 2);
            }
            var byModel = e.GetProperty("latency_ms").GetProperty("inference_by_model");
            Assert.True(byModel.GetProperty(arousal.Id).GetDouble() >= 0);
        }
        for (var channel = 0; channel < 2; channel++)
        {
            // Per channel, events come in segment order and each segment ends with its final.
            var mine = events.Where(e => e.GetProperty("channel").GetInt32() == channel).ToList();
            Assert.NotEmpty(mine);
            var segments = mine.Select(e => e.GetProperty("segment").GetInt32()).ToList();
            Assert.Equal(segments.Order(), segments);
            foreach (var segment in mine.GroupBy(e => e.GetProperty("segment").GetInt32()))
            {
                Assert.True(segment.Last().GetProperty("final").GetBoolean());
            }
        }

        // Each other model's finals against the call's truth (arousal3: the level of the turn's emotion).
        foreach (var model in others)
        {
            int agree = 0,
                turns = 0;
            for (var channel = 0; channel < 2; channel++)
            {
                var finals = events
                    .Where(e =>
                        e.GetProperty("channel").GetInt32() == channel && e.GetProperty("final").GetBoolean()
                    )
                    .Select(e =>
                        (
                            Start: e.GetProperty("start_s").GetDouble(),
                            End: e.GetProperty("end_s").GetDouble(),
                            Label: e.GetProperty("models")
                                .GetProperty(model.Id)
                                .GetProperty("label")
                                .GetString()!
                        )
                    );
                var (a, t) = SpeechScoring.TurnLabelAgreement(
                    truth,
                    channel,
                    finals,
                    emotionOfTurn => AccuracyFloor.Truth(model.Labels, emotionOfTurn)
                );
                agree += a;
                turns += t;
            }
            var agreement = agree / (double)turns;
            var (measured, n) = CallFloors[(model.Id, "call01_stereo16k")];
            var floor = AccuracyFloor.Of(measured, n);
            output.WriteLine(
                $"{model.Id}: turn label agreement {agreement:P1} ({agree}/{turns}); recorded {measured:P1} "
                    + $"(n {n}), floor {floor:P1}"
            );
            Assert.Equal(n, turns);
            Assert.True(
                agreement >= floor,
                $"{model.Id}: turn label agreement on call01 {agreement:P1} ({agree}/{turns}) is below its floor "
                    + $"{floor:P1} (measured {measured:P1} − 2.33 standard errors)"
            );
        }

        using var summary = JsonDocument.Parse(
            await File.ReadAllTextAsync(Path.Combine(_out, "call01_stereo16k.summary.json"))
        );
        var channels = summary.RootElement.GetProperty("channels").EnumerateArray().ToList();
        Assert.Equal(2, channels.Count);
        foreach (var channel in channels)
        {
            var shares = channel
                .GetProperty("label_share_by_model")
                .GetProperty(arousal.Id)
                .EnumerateObject()
                .ToList();
            Assert.NotEmpty(shares);
            Assert.All(shares, p => Assert.Contains(p.Name, arousal.Labels));
            Assert.Equal(1, shares.Sum(p => p.Value.GetDouble()), 2);
            output.WriteLine(
                $"{channel.GetProperty("channel_name").GetString()}: "
                    + string.Join(", ", shares.Select(p => $"{p.Name} {p.Value.GetDouble():P0}"))
            );
        }
    }

    [SkippableFact]
    public async Task Csv_resume_and_a_failed_file_that_does_not_stop_the_others()
    {
        RequireModel();
        var clips = Path.GetDirectoryName(CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav"))!;
        var inputs = Path.Combine(_out, "in");
        Directory.CreateDirectory(Path.Combine(inputs, "sub"));
        File.Copy(Path.Combine(clips, "1004_TSI_ANG_XX.wav"), Path.Combine(inputs, "a.wav"));
        File.Copy(Path.Combine(clips, "1004_TIE_HAP_XX.wav"), Path.Combine(inputs, "sub", "b.wav"));
        await File.WriteAllBytesAsync(Path.Combine(inputs, "broken.wav"), "RIFF\x04\0\0\0WAVE"u8.ToArray());
        var results = Path.Combine(_out, "out");

        var (exit, _, stderr) = await CliRunner.RunAsync(
            "replay",
            inputs,
            "--out",
            results,
            "--format",
            "csv",
            "-j",
            "2"
        );

        Assert.Equal(1, exit);
        Assert.Contains("broken.wav", stderr);
        var csv = File.ReadAllLines(Path.Combine(results, "a.csv"));
        Assert.StartsWith("file,channel,channel_name,segment,start_s,end_s,final,label,score_", csv[0]);
        Assert.Contains(csv.Skip(1), l => l.Contains(",true,", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(results, "sub", "b.csv")));
        Assert.False(File.Exists(Path.Combine(results, "broken.csv")));

        // --resume skips complete outputs (their files are left untouched) and retries the failed one.
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(results, "a.csv"));
        File.Delete(Path.Combine(inputs, "broken.wav"));
        (exit, _, stderr) = await CliRunner.RunAsync(
            "replay",
            inputs,
            "--out",
            results,
            "--format",
            "csv",
            "--resume"
        );
        Assert.True(exit == 0, stderr);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(results, "a.csv")));
    }

    [SkippableFact]
    public async Task Resume_redoes_an_output_made_with_other_settings_and_keeps_one_made_with_these()
    {
        RequireModel();
        var clip = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        var events = Path.Combine(_out, "1004_TSI_ANG_XX.jsonl");
        var summary = Path.Combine(_out, "1004_TSI_ANG_XX.summary.json");
        var (exit, _, stderr) = await CliRunner.RunAsync("replay", clip, "--out", _out, "-q");
        Assert.True(exit == 0, stderr);
        Assert.Contains(ReadJsonl(events), e => !e.GetProperty("final").GetBoolean());
        using (var written = JsonDocument.Parse(File.ReadAllText(summary)))
        {
            var settings = written.RootElement.GetProperty("settings");
            Assert.Equal(ModelCatalog.Resolve(null).Id, settings.GetProperty("models")[0].GetString());
            Assert.False(settings.GetProperty("finals_only").GetBoolean());
            Assert.Equal("jsonl", settings.GetProperty("format").GetString());
        }

        // The same settings: kept as it is.
        var stamp = File.GetLastWriteTimeUtc(events);
        (exit, _, stderr) = await CliRunner.RunAsync("replay", clip, "--out", _out, "--resume");
        Assert.True(exit == 0, stderr);
        Assert.Contains("complete already (--resume)", stderr, StringComparison.Ordinal);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(events));

        // --finals-only changes what the output holds: redone, and said so.
        (exit, _, stderr) = await CliRunner.RunAsync(
            "replay",
            clip,
            "--out",
            _out,
            "--resume",
            "--finals-only",
            "-q"
        );
        Assert.True(exit == 0, stderr);
        Assert.Contains("redoing its output: made with other settings (finals_only false → true)", stderr);
        Assert.All(ReadJsonl(events), e => Assert.True(e.GetProperty("final").GetBoolean()));

        // An output whose summary records no settings (an older ser's) cannot be vouched for: redone.
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(summary))!.AsObject();
        node.Remove("settings");
        File.WriteAllText(summary, node.ToJsonString());
        (exit, _, stderr) = await CliRunner.RunAsync(
            "replay",
            clip,
            "--out",
            _out,
            "--resume",
            "--finals-only",
            "-q"
        );
        Assert.True(exit == 0, stderr);
        Assert.Contains("redoing its output: it records no settings", stderr, StringComparison.Ordinal);
        using var redone = JsonDocument.Parse(File.ReadAllText(summary));
        Assert.True(redone.RootElement.GetProperty("settings").GetProperty("finals_only").GetBoolean());
    }

    [Fact]
    public async Task Replay_without_inputs_is_a_clear_error()
    {
        var (exit, _, stderr) = await CliRunner.RunAsync("replay", "/nonexistent/dir", "--out", _out);
        Assert.Equal(1, exit);
        Assert.Contains("no such file or directory", stderr);
    }

    [Fact]
    public void Globs_expand_relative_to_their_fixed_prefix()
    {
        var (root, pattern) = Replay.InputExpander.Glob("/calls/2024/**/*.wav");
        Assert.Equal("/calls/2024", root);
        Assert.Matches(pattern, "a.wav");
        Assert.Matches(pattern, "x/y/a.wav");
        Assert.DoesNotMatch(pattern, "a.mp3");
    }
}
