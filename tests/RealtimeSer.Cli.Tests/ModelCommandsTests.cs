using System.Text.Json;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Cli.Tests;

public class ModelCommandsTests
{
    private static void RequireModel()
    {
        try
        {
            ModelCatalog.Resolve(null);
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"no emotion model installed: {e.Message}");
        }
    }

    [SkippableFact]
    public async Task Models_lists_the_default_model_with_labels()
    {
        RequireModel();
        var (exit, stdout, stderr) = await CliRunner.RunAsync("models", "--json");
        Assert.True(exit == 0, stderr);
        var models = stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToList();
        var crema = Assert.Single(
            models,
            m => m.GetProperty("id").GetString() == ModelCatalog.DefaultModelId
        );
        Assert.Equal(
            ["angry", "disgust", "fear", "happy", "neutral", "sad"],
            crema.GetProperty("labels").EnumerateArray().Select(l => l.GetString())
        );
        Assert.True(crema.GetProperty("default").GetBoolean());
        Assert.Single(models, m => m.GetProperty("default").GetBoolean());
    }

    [SkippableFact]
    public async Task Models_names_each_models_training_corpora_as_its_manifest_does()
    {
        RequireModel();
        var (exit, stdout, stderr) = await CliRunner.RunAsync("models", "--json");
        Assert.True(exit == 0, stderr);
        var (textExit, text, textErr) = await CliRunner.RunAsync("models");
        Assert.True(textExit == 0, textErr);
        var entries = stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToList();
        var withCorpora = 0;
        foreach (var manifest in ModelCatalog.List())
        {
            using var raw = JsonDocument.Parse(
                File.ReadAllText(Path.Combine(manifest.Directory, "manifest.json"))
            );
            var expected =
                raw.RootElement.TryGetProperty("source", out var source)
                && source.TryGetProperty("corpora", out var corpora)
                    ? corpora.EnumerateArray().Select(c => c.GetProperty("id").GetString()).ToList()
                    : [];
            var entry = entries.Single(m => m.GetProperty("id").GetString() == manifest.Id);
            var listed = entry.GetProperty("training_corpora").EnumerateArray().ToList();
            Assert.Equal(expected, listed.Select(c => c.GetProperty("id").GetString()));
            Assert.All(listed, c => Assert.False(string.IsNullOrEmpty(c.GetProperty("licence").GetString())));

            var block = text[text.IndexOf(manifest.Id + " (", StringComparison.Ordinal)..];
            var header = block.Split('\n')[0];
            Assert.Equal(manifest.Id == ModelCatalog.DefaultModelId, header.Contains("[default]"));
            Assert.All(expected, id => Assert.Contains(id!, block));
            withCorpora += expected.Count > 0 ? 1 : 0;
        }
        Assert.True(withCorpora > 0, "no installed model names its training corpora");
    }

    [SkippableFact]
    public async Task Classify_one_speaker_carries_the_speakers_voice_from_file_to_file()
    {
        RequireModel();
        var clips = Directory
            .GetFiles(
                Path.GetDirectoryName(CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav"))!,
                "1011_*.wav"
            )
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.True(clips.Length >= 5, $"{clips.Length} clips of speaker 1011");
        static Dictionary<string, string> Lines(string stdout) =>
            stdout
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .ToDictionary(
                    r => r.GetProperty("file").GetString()!,
                    r => r.GetProperty("scores").ToString()
                );

        var alone = await CliRunner.RunAsync(["classify", "--json", .. clips]);
        var together = await CliRunner.RunAsync(["classify", "--json", "--one-speaker", .. clips]);

        Assert.True(alone.Exit == 0, alone.Err);
        Assert.True(together.Exit == 0, together.Err);
        var (a, t) = (Lines(alone.Out), Lines(together.Out));
        Assert.Equal(clips.Length, t.Count);
        // The first file starts the speaker: judged exactly as alone. Later ones are judged against the voice so far.
        Assert.Equal(a[clips[0]], t[clips[0]]);
        Assert.Contains(clips.Skip(1), f => a[f] != t[f]);
    }

    [SkippableFact]
    public async Task Classify_json_prints_one_line_per_file_with_all_scores()
    {
        RequireModel();
        var a = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        var b = CliRunner.RequireShared("fixtures/clips/1004_TIE_HAP_XX.wav");

        var (exit, stdout, stderr) = await CliRunner.RunAsync("classify", "--json", a, b);

        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        foreach (var (line, file) in lines.Zip([a, b]))
        {
            var root = JsonDocument.Parse(line).RootElement;
            Assert.Equal(["file", "label", "scores"], root.EnumerateObject().Select(p => p.Name));
            Assert.Equal(file, root.GetProperty("file").GetString());
            var scores = root.GetProperty("scores")
                .EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.GetDouble());
            Assert.Equal(6, scores.Count);
            Assert.Equal(1.0, scores.Values.Sum(), 3);
            Assert.Equal(scores.MaxBy(s => s.Value).Key, root.GetProperty("label").GetString());
        }
    }

    [SkippableFact]
    public async Task Classify_takes_directories_and_globs_as_replay_does()
    {
        RequireModel();
        var a = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        var b = CliRunner.RequireShared("fixtures/clips/1004_TIE_HAP_XX.wav");
        var dir = Path.Combine(Path.GetTempPath(), $"ser-classify-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(dir, "day2"));
        try
        {
            File.Copy(a, Path.Combine(dir, "angry.wav"));
            File.Copy(b, Path.Combine(dir, "day2", "happy.wav"));
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "not audio");
            string[] expected = [Path.Join(dir, "angry.wav"), Path.Join(dir, "day2", "happy.wav")];

            var byDirectory = await CliRunner.RunAsync("classify", "--json", dir);
            var byGlob = await CliRunner.RunAsync("classify", "--json", Path.Join(dir, "**", "*.wav"));
            var withMissing = await CliRunner.RunAsync(
                "classify",
                "--json",
                Path.Join(dir, "day2"),
                Path.Join(dir, "missing.wav")
            );

            foreach (var (exit, stdout, stderr) in new[] { byDirectory, byGlob })
            {
                Assert.True(exit == 0, stderr);
                Assert.Equal(expected, Files(stdout));
            }
            Assert.Equal(1, withMissing.Exit);
            Assert.Equal([expected[1]], Files(withMissing.Out));
            Assert.Contains(
                "missing.wav: no such file or directory",
                withMissing.Err,
                StringComparison.Ordinal
            );
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        static string[] Files(string stdout) =>
            stdout
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("file").GetString()!)
                .ToArray();
    }

    [SkippableFact]
    public async Task Models_shows_each_metric_as_its_manifest_has_it_not_rounded_again()
    {
        RequireModel();
        var (exit, text, stderr) = await CliRunner.RunAsync("models");
        Assert.True(exit == 0, stderr);
        var checkedMetrics = 0;
        foreach (var manifest in ModelCatalog.List())
        {
            using var raw = JsonDocument.Parse(
                File.ReadAllText(Path.Combine(manifest.Directory, "manifest.json"))
            );
            if (!raw.RootElement.TryGetProperty("metrics", out var metrics))
            {
                continue;
            }
            foreach (
                var set in metrics.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Object)
            )
            {
                foreach (
                    var m in set
                        .Value.EnumerateObject()
                        .Where(p => p.Value.ValueKind == JsonValueKind.Number && p.Name != "macro_f1")
                )
                {
                    var shown = m
                        .Value.GetDouble()
                        .ToString("0.####", System.Globalization.CultureInfo.InvariantCulture);
                    Assert.Contains($"{set.Name}: ", text, StringComparison.Ordinal);
                    Assert.Matches(
                        $@"{System.Text.RegularExpressions.Regex.Escape(set.Name)}:.*\b{m.Name} {System.Text.RegularExpressions.Regex.Escape(shown)}(,|\n|$)",
                        text
                    );
                    checkedMetrics++;
                }
            }
        }
        Skip.If(checkedMetrics == 0, "no installed model has per-set metrics");
    }

    [SkippableFact]
    public async Task A_model_line_of_the_CPU_package_is_one_short_line_without_a_CUDA_notice()
    {
        RequireModel();
        Skip.If(
            Commands.ExecutionNotes.HasCudaProvider,
            "this build has the GPU package: its fallback line says why"
        );
        var clip = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");

        var (exit, _, stderr) = await CliRunner.RunAsync("classify", clip);

        Assert.True(exit == 0, stderr);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^ser: model \w+ on CPU \(ONNX Runtime [\d.]+, \d+ threads\)$", line);
    }

    [SkippableFact]
    public async Task Info_names_every_installed_model_with_its_path()
    {
        RequireModel();
        var (exit, stdout, stderr) = await CliRunner.RunAsync("info");
        Assert.True(exit == 0, stderr);
        Assert.Contains("models:      ", stdout, StringComparison.Ordinal);
        foreach (var m in ModelCatalog.List())
        {
            var mark = m.Id == ModelCatalog.DefaultModelId ? " (default)" : "";
            Assert.Contains($"{m.Id}{mark}: {m.ModelPath}", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Unknown_model_id_lists_what_is_installed()
    {
        var (exit, _, stderr) = await CliRunner.RunAsync("classify", "--model", "no-such-model", "x.wav");
        Assert.Equal(1, exit);
        Assert.Contains("no-such-model", stderr);
    }
}
