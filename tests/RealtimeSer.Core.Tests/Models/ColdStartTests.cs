using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Onnx;
using RealtimeSer.Onnx.Tests.Models;

namespace RealtimeSer.Core.Tests.Models;

/// <summary>
/// The cold-start path of an adaptive model (manifest <c>adaptation.cold_start</c>), on hand-built graphs whose
/// outputs can be worked out by hand: the feature graph passes a window's first two samples through, the adapted
/// head returns its (speaker-normalised) input, and the cold head returns the raw features times a fixed matrix.
/// </summary>
public sealed class ColdStartTests : IDisposable
{
    // cold logits = x·ColdW + ColdB over the raw features
    private static readonly float[] ColdW = [2f, -1f, 0.5f, 1f];
    private static readonly float[] ColdB = [0.25f, -0.5f];

    private readonly string _dir = Directory.CreateTempSubdirectory("ser-coldstart-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] FeatureGraph() =>
        new OnnxModelBuilder()
            .Input("input_values", TensorElementType.Float, "N", "S")
            .Int64Initializer("starts", [1], [0])
            .Int64Initializer("ends", [1], [2])
            .Int64Initializer("axes", [1], [1])
            .Node("Slice", ["input_values", "starts", "ends", "axes"], ["features"])
            .Output("features", TensorElementType.Float, "N", 2)
            .Build("features");

    private static byte[] IdentityHead() =>
        new OnnxModelBuilder()
            .Input("features", TensorElementType.Float, "N", 2)
            .Node("Identity", ["features"], ["logits"])
            .Output("logits", TensorElementType.Float, "N", 2)
            .Build("head");

    private static byte[] ColdHead() =>
        new OnnxModelBuilder()
            .Input("features", TensorElementType.Float, "N", 2)
            .FloatInitializer("W", [2, 2], ColdW)
            .FloatInitializer("b", [2], ColdB)
            .Node("MatMul", ["features", "W"], ["xw"])
            .Node("Add", ["xw", "b"], ["logits"])
            .Output("logits", TensorElementType.Float, "N", 2)
            .Build("cold_head");

    /// <summary>Writes a two-label adaptive model; <paramref name="coldStart"/> is the manifest's block or null.</summary>
    private string WriteModel(string name, string? coldStart)
    {
        var dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), FeatureGraph());
        File.WriteAllBytes(Path.Combine(dir, "head.onnx"), IdentityHead());
        File.WriteAllBytes(Path.Combine(dir, "cold_head.onnx"), ColdHead());
        var cold = coldStart is null ? "" : $",\"cold_start\":{coldStart}";
        File.WriteAllText(
            Path.Combine(dir, "manifest.json"),
            "{\"id\":\""
                + name
                + "\",\"labels\":[\"angry\",\"sad\"],\"output\":\"features\","
                + "\"window\":{\"min_s\":0.01,\"recommended_s\":0.01,\"hop_s\":0.01},"
                + "\"adaptation\":{\"kind\":\"speaker_zscore\",\"head\":\"head.onnx\",\"prior_windows\":4,"
                + "\"prior_mean\":[0,0],\"prior_var\":[1,1]"
                + cold
                + "}}"
        );
        return dir;
    }

    private const string Blend =
        """{"head":"cold_head.onnx","blend":{"space":"probabilities","windows":[1,4],"cold_weight":[1,0]}}""";

    private static float[] Window(float a, float b)
    {
        var w = new float[160];
        w[0] = a;
        w[1] = b;
        return w;
    }

    private static double[] Softmax(params double[] z)
    {
        var max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        return [.. e.Select(v => v / e.Sum())];
    }

    private static double[] ColdProbabilities(float a, float b) =>
        Softmax((a * ColdW[0]) + (b * ColdW[2]) + ColdB[0], (a * ColdW[1]) + (b * ColdW[3]) + ColdB[1]);

    private static (float A, float B)[] Sequence()
    {
        var random = new Random(11);
        return
        [
            .. Enumerable
                .Range(0, 8)
                .Select(_ => ((float)(random.NextDouble() * 4 - 2), (float)(random.NextDouble() * 4 - 2))),
        ];
    }

    private static List<float[]> Run(IChannelAdaptiveClassifier classifier, (float A, float B)[] windows)
    {
        var adapter = classifier.CreateChannelAdapter();
        var outputs = new List<float[]>();
        foreach (var (a, b) in windows)
        {
            var features = new float[classifier.FeatureCount];
            classifier.ComputeFeatures(Window(a, b), 1, features);
            var p = new float[2];
            adapter.Adapt(features, p);
            outputs.Add(p);
        }
        return outputs;
    }

    [Fact]
    public void A_channel_leans_on_the_cold_head_until_it_has_heard_enough_windows()
    {
        using var withCold = OnnxEmotionClassifier.Load(ModelManifestLoader.Load(WriteModel("cold", Blend)));
        using var adaptedOnly = OnnxEmotionClassifier.Load(
            ModelManifestLoader.Load(WriteModel("plain", null))
        );
        var windows = Sequence();
        var blended = Run(withCold, windows);
        var adapted = Run(adaptedOnly, windows);
        for (var n = 1; n <= windows.Length; n++)
        {
            // weight 1 at the first window, 0 from the fourth, linear in log(windows) between: 1 − ln n / ln 4
            var w = Math.Clamp(1 - (Math.Log(n) / Math.Log(4)), 0, 1);
            var cold = ColdProbabilities(windows[n - 1].A, windows[n - 1].B);
            for (var i = 0; i < 2; i++)
            {
                var expected = (w * cold[i]) + ((1 - w) * adapted[n - 1][i]);
                Assert.Equal(expected, blended[n - 1][i], 5);
            }
        }
        // The first window is the cold head's alone, and it differs from what the adapted head says.
        Assert.NotEqual(adapted[0][0], blended[0][0], 3);
    }

    [Fact]
    public async Task A_clip_judged_alone_is_answered_by_the_cold_start_path()
    {
        using var classifier = OnnxEmotionClassifier.Load(
            ModelManifestLoader.Load(WriteModel("cold", Blend))
        );
        var result = await ClipClassifier.ClassifyAsync(classifier, Window(1.5f, -0.5f));
        var expected = ColdProbabilities(1.5f, -0.5f);
        Assert.Equal(expected[0], result.Scores[0], 5);
        Assert.Equal(expected[1], result.Scores[1], 5);
        Assert.Equal(expected[0] > expected[1] ? "angry" : "sad", result.Label);
    }

    [Fact]
    public void Replaying_the_same_windows_gives_the_same_scores()
    {
        using var classifier = OnnxEmotionClassifier.Load(
            ModelManifestLoader.Load(WriteModel("cold", Blend))
        );
        var first = Run(classifier, Sequence());
        var second = Run(classifier, Sequence());
        for (var n = 0; n < first.Count; n++)
        {
            Assert.Equal(first[n], second[n]);
        }
    }

    [Fact]
    public void The_manifest_gives_the_cold_start_head_and_its_blend()
    {
        var dir = WriteModel(
            "parsed",
            """{"head":"cold_head.onnx","head_input":"features","head_output":"logits","blend":{"space":"logits","windows":[1,2,8],"cold_weight":[0.9,0.5,0.1],"temperature":[1.5,1.2,1]}}"""
        );
        var cold = ModelManifestLoader.Load(dir).Adaptation!.ColdStart!;
        Assert.Equal(Path.Combine(dir, "cold_head.onnx"), cold.HeadPath);
        Assert.Equal(BlendSpace.Logits, cold.Blend.Space);
        Assert.Equal([1d, 2, 8], cold.Blend.Windows);
        Assert.Equal(0.9, cold.Blend.WeightAt(1), 9);
        Assert.Equal(0.9, cold.Blend.WeightAt(0), 9);
        Assert.Equal(0.5, cold.Blend.WeightAt(2), 9);
        // halfway between 2 and 8 in log(windows) is 4
        Assert.Equal(0.3, cold.Blend.WeightAt(4), 9);
        Assert.Equal(0.1, cold.Blend.WeightAt(8), 9);
        Assert.Equal(0.1, cold.Blend.WeightAt(1000), 9);
        Assert.Equal(1.5, cold.Blend.TemperatureAt(1), 9);
        Assert.Equal(1.1, cold.Blend.TemperatureAt(4), 9);
        // a blend without temperatures leaves the logits as they are
        Assert.Equal(1.0, (cold.Blend with { Temperature = null }).TemperatureAt(4), 9);
    }

    [Fact]
    public void A_manifest_without_a_cold_start_still_loads()
    {
        Assert.Null(ModelManifestLoader.Load(WriteModel("old", null)).Adaptation!.ColdStart);
    }

    [Theory]
    [InlineData("""{"head":"cold_head.onnx"}""", "blend")]
    [InlineData("""{"blend":{"windows":[1,2],"cold_weight":[1]}}""", "as many cold_weight")]
    [InlineData("""{"blend":{"windows":[2,1],"cold_weight":[1,0]}}""", "increasing")]
    [InlineData("""{"blend":{"windows":[1],"cold_weight":[1.5]}}""", "[0, 1]")]
    [InlineData("""{"blend":{"space":"ranks","windows":[1],"cold_weight":[1]}}""", "ranks")]
    [InlineData("""{"head":"missing.onnx","blend":{"windows":[1],"cold_weight":[1]}}""", "missing.onnx")]
    [InlineData(
        """{"blend":{"windows":[1,2],"cold_weight":[1,0],"temperature":[1,0]}}""",
        "temperatures > 0"
    )]
    public void A_bad_cold_start_block_is_an_error_that_says_what_is_wrong(string block, string expected)
    {
        var dir = WriteModel("bad", block);
        var e = Assert.ThrowsAny<Exception>(() => ModelManifestLoader.Load(dir));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_cold_head_of_the_wrong_shape_is_refused_at_load()
    {
        var dir = WriteModel("shape", Blend);
        // a "cold head" with three inputs where the features are two
        File.WriteAllBytes(
            Path.Combine(dir, "cold_head.onnx"),
            new OnnxModelBuilder()
                .Input("features", TensorElementType.Float, "N", 3)
                .Node("Identity", ["features"], ["logits"])
                .Output("logits", TensorElementType.Float, "N", 3)
                .Build("wrong")
        );
        var e = Assert.Throws<InvalidDataException>(() =>
            OnnxEmotionClassifier.Load(ModelManifestLoader.Load(dir))
        );
        Assert.Contains("cold_head.onnx", e.Message);
    }

    [Theory]
    [InlineData(BlendSpace.Probabilities)]
    [InlineData(BlendSpace.Logits)]
    public void The_blends_temperature_divides_its_logits(BlendSpace space)
    {
        float[] cold = [2f, -1f, 0f];
        float[] adapted = [-1f, 1f, 0.5f];
        var plain = new float[3];
        var tempered = new float[3];
        ColdStartBlending.Blend(space, 0.4, 1.0, cold, adapted, plain);
        ColdStartBlending.Blend(space, 0.4, 2.0, cold, adapted, tempered);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(plain[i] / 2, tempered[i], 5);
        }
        // weight 0: the adapted logits, tempered, whatever the cold ones are
        ColdStartBlending.Blend(space, 0, 2.0, [float.NaN, float.NaN, float.NaN], adapted, tempered);
        Assert.Equal([-0.5f, 0.5f, 0.25f], tempered);
    }

    [Theory]
    [InlineData(BlendSpace.Probabilities)]
    [InlineData(BlendSpace.Logits)]
    public void Blending_follows_the_manifests_space(BlendSpace space)
    {
        float[] cold = [2f, -1f, 0f];
        float[] adapted = [-1f, 1f, 0.5f];
        var logits = new float[3];
        ColdStartBlending.Blend(space, 0.25, 1.0, cold, adapted, logits);
        var got = Softmax([.. logits.Select(v => (double)v)]);
        var expected =
            space == BlendSpace.Logits
                ? Softmax([.. cold.Zip(adapted, (c, a) => (0.25 * c) + (0.75 * a))])
                :
                [
                    .. Softmax([.. cold.Select(v => (double)v)])
                        .Zip(Softmax([.. adapted.Select(v => (double)v)]), (c, a) => (0.25 * c) + (0.75 * a)),
                ];
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(expected[i], got[i], 6);
        }
    }
}
