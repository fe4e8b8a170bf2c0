using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Core.Tests.Models;

public sealed class SpeakerAdaptationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ser-adaptation-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SpeakerAdaptation Adaptation(double priorWindows) =>
        new("head.onnx", "features", "logits", priorWindows, [1f, -2f], [4f, 0.25f]);

    [Fact]
    public void A_new_channel_is_normalised_with_the_prior_and_the_window_itself()
    {
        var normalizer = new SpeakerNormalizer(Adaptation(3));
        var z = new float[2];
        normalizer.AddAndNormalize([3f, -2f], z);
        // mean = (3·1 + 3)/4 = 1.5; E[x²] = (3·(4 + 1) + 9)/4 = 6; variance = 6 − 2.25 = 3.75.
        Assert.Equal((3 - 1.5) / Math.Sqrt(3.75), z[0], 5);
        // The second feature sits on the prior's mean: zero, whatever its variance.
        Assert.Equal(0, z[1], 5);
    }

    [Fact]
    public void A_speakers_own_baseline_replaces_the_prior_as_windows_accumulate()
    {
        // A speaker whose first feature always sits near 10 (the prior says 1): after many windows a window at
        // the speaker's baseline scores near zero, and one a deviation above scores near one (the three prior
        // windows, 9 away, still widen the variance by 3·81/20003: about 2 %).
        var normalizer = new SpeakerNormalizer(Adaptation(3));
        var z = new float[2];
        var random = new Random(5);
        for (var i = 0; i < 20000; i++)
        {
            normalizer.AddAndNormalize([10f + (float)(random.NextDouble() * 2 - 1), -2f], z);
        }
        var deviation = Math.Sqrt(1.0 / 3); // uniform on [−1, 1]
        normalizer.AddAndNormalize([10f, -2f], z);
        Assert.InRange(z[0], -0.1, 0.1);
        normalizer.AddAndNormalize([(float)(10 + deviation), -2f], z);
        Assert.InRange(z[0], 0.9, 1.1);
        Assert.Equal(20002, normalizer.Windows);
    }

    [Fact]
    public void Features_of_the_wrong_length_are_refused()
    {
        var normalizer = new SpeakerNormalizer(Adaptation(0));
        Assert.Throws<ArgumentException>(() => normalizer.AddAndNormalize([1f, 2f, 3f], new float[3]));
    }

    private void WriteModel(string adaptation, bool head = true)
    {
        File.WriteAllText(Path.Combine(_dir, "model.onnx"), "x");
        if (head)
        {
            File.WriteAllText(Path.Combine(_dir, "head.onnx"), "x");
        }
        File.WriteAllText(
            Path.Combine(_dir, "manifest.json"),
            $$"""{"id":"a","labels":["angry","sad"],"output":"features","adaptation":{{adaptation}}}"""
        );
    }

    [Fact]
    public void The_manifest_gives_the_adaptation_with_its_head_next_to_the_model()
    {
        WriteModel(
            """{"kind":"speaker_zscore","head":"head.onnx","prior_windows":12,"prior_mean":[0.5,1],"prior_var":[2,3]}"""
        );
        var manifest = ModelManifestLoader.Load(_dir);
        Assert.NotNull(manifest.Adaptation);
        Assert.Equal(Path.Combine(_dir, "head.onnx"), manifest.Adaptation.HeadPath);
        Assert.Equal(12, manifest.Adaptation.PriorWindows);
        Assert.Equal(2, manifest.Adaptation.FeatureCount);
        Assert.Equal([2f, 3f], manifest.Adaptation.PriorVariance);
    }

    [Theory]
    [InlineData("""{"kind":"speaker_zscore","prior_mean":[0.5,1],"prior_var":[2]}""", "same non-zero length")]
    [InlineData("""{"kind":"speaker_zscore","prior_mean":[0.5],"prior_var":[0]}""", "variances > 0")]
    [InlineData("""{"kind":"whitening","prior_mean":[0.5],"prior_var":[1]}""", "whitening")]
    public void A_bad_adaptation_block_is_an_error_that_says_what_is_wrong(string block, string expected)
    {
        WriteModel(block);
        var e = Assert.Throws<InvalidDataException>(() => ModelManifestLoader.Load(_dir));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_missing_head_graph_is_named()
    {
        WriteModel("""{"kind":"speaker_zscore","prior_mean":[0.5],"prior_var":[1]}""", head: false);
        var e = Assert.Throws<FileNotFoundException>(() => ModelManifestLoader.Load(_dir));
        Assert.Contains("head.onnx", e.Message);
    }
}
