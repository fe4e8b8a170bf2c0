using System.Text.Json;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Tests.Support;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Models;

/// <summary>
/// The C# ONNX path must reproduce the Python tools: for every installed model that ships a parity.json (the
/// default and the others trained here), logits on the 60 fixture clips within 1e-4 of those the PyTorch model
/// stored, and the same top-1 labels.
/// </summary>
public class ModelParityTests(ITestOutputHelper output)
{
    private static List<string> IdsWithParity() =>
        ModelCatalog
            .List()
            .Where(m => File.Exists(Path.Combine(m.Directory, "parity.json")))
            .Select(m => m.Id)
            .ToList();

    public static TheoryData<string> ModelsWithParity()
    {
        var ids = IdsWithParity();
        var rows = new TheoryData<string>();
        // With no model installed, one row that skips below with the reason.
        foreach (var id in ids.Count > 0 ? ids : [ModelCatalog.DefaultModelId])
        {
            rows.Add(id);
        }
        return rows;
    }

    [SkippableFact]
    public void The_default_model_is_among_those_checked()
    {
        Skip.If(ModelCatalog.List().Count == 0, "no emotion model installed");
        Assert.Contains(ModelCatalog.DefaultModelId, IdsWithParity());
    }

    [SkippableTheory]
    [MemberData(nameof(ModelsWithParity))]
    public async Task Onnx_logits_match_pytorch_on_fixture_clips(string modelId)
    {
        var (manifest, parity, tolerance) = LoadParity(modelId, "tools/model/parity.py");
        using var _ = parity;
        Assert.Equal(
            manifest.Labels,
            parity.RootElement.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToList()
        );
        using var classifier = OnnxEmotionClassifier.Load(manifest);

        var checkedClips = 0;
        double worst = 0;
        foreach (var item in parity.RootElement.GetProperty("items").EnumerateArray())
        {
            var clip = TestPaths.RequireShared(item.GetProperty("path").GetString()!);
            var audio = await AudioLoader.ReadMono16kAsync(clip);
            Assert.Equal(item.GetProperty("samples").GetInt32(), audio.Length);
            var logits = new float[manifest.Labels.Count];
            classifier.ComputeOutputs(audio, 1, logits);
            var expected = item.GetProperty("logits").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (var i = 0; i < expected.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(expected[i] - logits[i]));
                Assert.True(
                    Math.Abs(expected[i] - logits[i]) <= tolerance,
                    $"{clip}: logit {manifest.Labels[i]} {logits[i]} vs PyTorch {expected[i]}"
                );
            }
            var top = manifest.Labels[Array.IndexOf(logits, logits.Max())];
            Assert.Equal(item.GetProperty("top1").GetString(), top);
            checkedClips++;
        }
        output.WriteLine($"{manifest.Id}: {checkedClips} clips, worst |Δlogit| {worst:E2}");
        Assert.Equal(60, checkedClips);
    }

    public static TheoryData<string> AdaptiveModels()
    {
        var rows = new TheoryData<string>();
        var ids = ModelCatalog.List().Where(m => m.Adaptation is not null).Select(m => m.Id).ToList();
        foreach (var id in ids.Count > 0 ? ids : ["general6"])
        {
            rows.Add(id);
        }
        return rows;
    }

    /// <summary>
    /// A model that adapts per channel: the 60 fixture clips fed in order as one channel's windows must give the
    /// logits the Python normaliser and head gave (parity.json "sequence_logits"), so the runtime's running
    /// statistics are the ones the model was evaluated with.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(AdaptiveModels))]
    public async Task Channel_adaptation_matches_python_over_a_sequence_of_windows(string modelId)
    {
        var (manifest, parity, tolerance) = LoadParity(modelId, "tools/model/general.py parity");
        using var _ = parity;
        using var classifier = OnnxEmotionClassifier.Load(manifest);
        Assert.True(classifier.AdaptsPerChannel);
        var adapter = classifier.CreateChannelAdapter();
        var expected = parity.RootElement.GetProperty("sequence_logits").EnumerateArray().ToList();
        var items = parity.RootElement.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(items.Count, expected.Count);
        double worst = 0;
        for (var n = 0; n < items.Count; n++)
        {
            var audio = await AudioLoader.ReadMono16kAsync(
                TestPaths.RequireShared(items[n].GetProperty("path").GetString()!)
            );
            var features = new float[classifier.FeatureCount];
            classifier.ComputeFeatures(audio, 1, features);
            var probabilities = new float[manifest.Labels.Count];
            adapter.Adapt(features, probabilities);
            var logits = expected[n].EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var reference = Softmax(logits);
            for (var i = 0; i < reference.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(reference[i] - probabilities[i]));
                Assert.True(
                    Math.Abs(reference[i] - probabilities[i]) <= tolerance,
                    $"window {n}: p({manifest.Labels[i]}) {probabilities[i]} vs Python {reference[i]}"
                );
            }
        }
        output.WriteLine($"{manifest.Id}: {items.Count} windows as one channel, worst |Δp| {worst:E2}");
    }

    private static double[] Softmax(double[] logits)
    {
        var max = logits.Max();
        var e = logits.Select(v => Math.Exp(v - max)).ToArray();
        var sum = e.Sum();
        return [.. e.Select(v => v / sum)];
    }

    [SkippableFact]
    public async Task Clip_classification_gives_probabilities_over_lower_case_labels()
    {
        var manifest = RequireModel(ModelCatalog.DefaultModelId);
        using var classifier = OnnxEmotionClassifier.Load(manifest);
        var clip = TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        var result = await ClipClassifier.ClassifyAsync(classifier, await AudioLoader.ReadMono16kAsync(clip));
        Assert.Equal(["angry", "disgust", "fear", "happy", "neutral", "sad"], result.Labels);
        Assert.Equal(1.0, result.Scores.Sum(), 3);
        Assert.Contains(result.Label, result.Labels);
    }

    private static (ModelManifest Manifest, JsonDocument Parity, double Tolerance) LoadParity(
        string modelId,
        string writtenBy
    )
    {
        var manifest = RequireModel(modelId);
        var parityPath = Path.Combine(manifest.Directory, "parity.json");
        Skip.IfNot(File.Exists(parityPath), $"{parityPath} not written ({writtenBy})");
        var parity = JsonDocument.Parse(File.ReadAllText(parityPath));
        return (manifest, parity, parity.RootElement.GetProperty("tolerance_abs").GetDouble());
    }

    private static ModelManifest RequireModel(string id)
    {
        try
        {
            return ModelCatalog.Resolve(id);
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"model {id} not installed: {e.Message}");
        }
    }
}
