using RealtimeSer.Core.Models;
using RealtimeSer.Core.Tests.Support;

namespace RealtimeSer.Core.Tests.Models;

/// <summary>
/// The fixed speaker splits the models are trained and scored on (tools/model/splits/speakers.csv): every
/// speaker of every corpus in exactly one part, every corpus with test speakers, CREMA-D's own split kept.
/// A speaker in two parts would leak test voices into training and make every figure in the model card too good.
/// </summary>
public class TrainingSplitsTests
{
    private static readonly string SplitsPath = Path.Combine(
        TestPaths.RepoRoot,
        "tools",
        "model",
        "splits",
        "speakers.csv"
    );

    private static Dictionary<(string Corpus, string Speaker), string> LoadSplits()
    {
        var rows = File.ReadAllLines(SplitsPath);
        Assert.Equal("corpus,speaker,split", rows[0]);
        var splits = new Dictionary<(string, string), string>();
        foreach (var row in rows.Skip(1))
        {
            var f = row.Split(',');
            Assert.Equal(3, f.Length);
            Assert.Contains(f[2], new[] { "train", "dev", "test" });
            Assert.True(splits.TryAdd((f[0], f[1]), f[2]), $"speaker {f[0]}/{f[1]} appears twice");
        }
        return splits;
    }

    [Fact]
    public void Every_corpus_has_train_dev_and_test_speakers()
    {
        var splits = LoadSplits();
        foreach (var corpus in splits.Keys.Select(k => k.Corpus).Distinct())
        {
            var parts = splits.Where(kv => kv.Key.Corpus == corpus).Select(kv => kv.Value).ToHashSet();
            Assert.True(
                parts.SetEquals(["train", "dev", "test"]),
                $"{corpus}: parts {string.Join(",", parts)}"
            );
        }
    }

    [SkippableFact]
    public void Every_labelled_speaker_of_the_shared_corpora_is_in_exactly_one_part()
    {
        var splits = LoadSplits();
        var checkedCorpora = 0;
        foreach (var corpus in new[] { "nemo", "ased", "turev", "casia", "emovo", "urdu" })
        {
            var labels = TestPaths.RequireShared($"{corpus}/labels.csv");
            var speakers = File.ReadLines(labels).Skip(1).Select(l => l.Split(',')[1]).ToHashSet();
            var inFile = splits.Keys.Where(k => k.Corpus == corpus).Select(k => k.Speaker).ToHashSet();
            Assert.True(
                speakers.SetEquals(inFile),
                $"{corpus}: speakers in labels.csv and the split differ "
                    + $"(missing {string.Join(",", speakers.Except(inFile))}; extra {string.Join(",", inFile.Except(speakers))})"
            );
            checkedCorpora++;
        }
        var crema = TestPaths.RequireShared("crema-d/speaker_split.csv");
        foreach (var row in File.ReadLines(crema).Skip(1))
        {
            var f = row.Split(',');
            Assert.Equal(f[2], splits[("crema-d", f[0])]);
        }
        Assert.Equal(6, checkedCorpora);
    }

    [SkippableFact]
    public void Installed_models_name_split_corpora_with_licences_and_the_default_names_its_own()
    {
        var models = ModelCatalog.List();
        Skip.If(models.Count == 0, "no emotion model installed");
        var corpora = LoadSplits().Keys.Select(k => k.Corpus).ToHashSet();
        Assert.NotEmpty(models.Single(m => m.Id == ModelCatalog.DefaultModelId).TrainingCorpora);
        foreach (var c in models.SelectMany(m => m.TrainingCorpora))
        {
            Assert.Contains(c.Id, corpora);
            Assert.False(string.IsNullOrWhiteSpace(c.Licence), $"{c.Id} has no licence in its manifest");
        }
    }
}
