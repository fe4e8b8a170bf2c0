using System.Text.Json;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Models;

/// <summary>
/// The C# ONNX path must reproduce the Python tools: every shipped model (a folder of models/ with a
/// manifest.json) ships a parity.json, and its logits on the 60 fixture clips are within the model's tolerance
/// below (<see cref="Tolerances"/>, fixed here, never read from parity.json) of those the PyTorch model stored,
/// with the same top-1 labels. A shipped model without parity.json, or without a tolerance here, fails.
/// </summary>
public class ModelParityTests(ITestOutputHelper output)
{
    /// <summary>
    /// Largest |Δ| allowed between the C# outputs and the Python tools' outputs stored in parity.json, per shipped
    /// model: logits of each clip alone, and for general6 also the probabilities of the clips fed as one channel.
    /// The shipped models differ by a few 1e-6, the float32 rounding of two implementations of the same graph
    /// (ONNX Runtime against PyTorch; parity.json records the figures). 1e-4 leaves tens of times that for other
    /// CPUs' kernels and thread counts, and is still far below what a real difference does: a wrong input scale,
    /// sample rate, normalisation or head moves logits by 1e-2 and more. general6's parity.json says 1e-3
    /// because its features pass through a z-normalisation with small variances, which could amplify a feature
    /// difference; the amplified difference stays at a few 1e-6, so it gets the same 1e-4 as the others.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, double> Tolerances = new Dictionary<string, double>
    {
        ["general6"] = 1e-4,
        ["crema6"] = 1e-4,
        ["multi6"] = 1e-4,
        ["arousal3"] = 1e-4,
        ["arousal3a"] = 1e-4,
    };

    public static TheoryData<string> ShippedModels()
    {
        var rows = new TheoryData<string>();
        foreach (var id in TestPaths.ShippedModelIds())
        {
            rows.Add(id);
        }
        return rows;
    }

    [Fact]
    public void Every_shipped_model_has_parity_json_and_a_tolerance_in_code()
    {
        var shipped = TestPaths.ShippedModelIds();
        Assert.Contains(ModelCatalog.DefaultModelId, shipped);
        foreach (var id in shipped)
        {
            var parity = Path.Combine(TestPaths.RepoRoot, "models", id, "parity.json");
            Assert.True(
                File.Exists(parity),
                $"shipped model {id} has no parity.json (tools/model/parity.py)"
            );
            Assert.True(
                Tolerances.ContainsKey(id),
                $"shipped model {id} has no parity tolerance in this test"
            );
        }
    }

    [SkippableTheory]
    [MemberData(nameof(ShippedModels))]
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
            // parity.json's truth is the clip's file-name label (the floors in AccuracyFloorTests score it).
            Assert.Equal(AccuracyFloor.CremaEmotion(clip), item.GetProperty("label").GetString());
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
        foreach (
            var id in TestPaths
                .ShippedModelIds()
                .Where(id => TestPaths.ShippedModel(id).Adaptation is not null)
        )
        {
            rows.Add(id);
        }
        return rows;
    }

    [Fact]
    public void The_default_model_adapts_per_channel()
    {
        // So that the sequence test below has a row: general6 is the adaptive model it is written for.
        Assert.NotNull(TestPaths.ShippedModel(ModelCatalog.DefaultModelId).Adaptation);
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
        var manifest = TestPaths.ShippedModel(modelId);
        var parityPath = Path.Combine(manifest.Directory, "parity.json");
        Assert.True(File.Exists(parityPath), $"{parityPath} not written ({writtenBy})");
        Assert.True(Tolerances.TryGetValue(modelId, out var tolerance), $"no parity tolerance for {modelId}");
        var parity = JsonDocument.Parse(File.ReadAllText(parityPath));
        return (manifest, parity, tolerance);
    }

    /// <summary>A model shipped in the repository's models/ (a checkout always has it: no skip).</summary>
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
