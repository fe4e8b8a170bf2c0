using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Tests.Support;

namespace RealtimeSer.Core.Tests.Models;

public sealed class ModelManifestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ser-manifest-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Project_manifest_loads_with_normalized_labels_and_windows()
    {
        Write("model.onnx", "x");
        Write(
            "manifest.json",
            """
            {"id":"m1","labels":["ANG","Happy","neutral"],"normalization":"zero_mean_unit_var",
             "window":{"min_s":0.5,"recommended_s":1.5,"hop_s":0.25},"metrics":{"test_accuracy":0.6}}
            """
        );
        var manifest = ModelManifestLoader.Load(_dir);
        Assert.Equal("m1", manifest.Id);
        Assert.Equal(["angry", "happy", "neutral"], manifest.Labels);
        Assert.Equal(InputNormalization.ZeroMeanUnitVariance, manifest.Normalization);
        Assert.Equal(1.5, manifest.RecommendedWindowSeconds);
        Assert.Equal(0.25, manifest.RecommendedHopSeconds);
        Assert.Equal(Path.Combine(_dir, "model.onnx"), manifest.ModelPath);
    }

    [Fact]
    public void Hugging_face_export_loads_without_hand_editing()
    {
        Write("model.onnx", "x");
        Write(
            "config.json",
            """{"id2label":{"1":"sad","0":"angry","2":"surprised"},"architectures":["Wav2Vec2ForSequenceClassification"]}"""
        );
        Write("preprocessor_config.json", """{"do_normalize":true,"sampling_rate":16000}""");
        var manifest = ModelManifestLoader.Load(Path.Combine(_dir, "model.onnx"));
        Assert.Equal(["angry", "sad", "surprise"], manifest.Labels);
        Assert.Equal(InputNormalization.ZeroMeanUnitVariance, manifest.Normalization);
        Assert.Equal("input_values", manifest.Input);
        Assert.Equal("logits", manifest.Output);
    }

    [Theory]
    [InlineData("""{"labels":["a"]}""", "at least two labels")]
    [InlineData("""{"labels":["a","a"]}""", "labels repeat")]
    [InlineData("""{"labels":["a","b"],"sample_rate":8000}""", "16000")]
    [InlineData("""{"labels":["a","b"],"normalization":"weird"}""", "unknown normalization")]
    [InlineData("""{"labels":["a","b"],"window":{"min_s":3,"recommended_s":1}}""", "window settings")]
    [InlineData("""{"labels":["a","b"],"model":"missing.onnx"}""", "missing.onnx")]
    [InlineData("""{"labels": [""", "not a valid model manifest")]
    public void Bad_manifests_fail_with_a_message_naming_the_problem(string json, string expected)
    {
        Write("model.onnx", "x");
        Write("manifest.json", json);
        var error = Assert.ThrowsAny<Exception>(() => ModelManifestLoader.Load(_dir));
        Assert.True(error is InvalidDataException or FileNotFoundException, error.GetType().Name);
        Assert.Contains(expected, error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_folder_that_is_not_a_model_says_how_to_make_one()
    {
        var error = Assert.Throws<InvalidDataException>(() => ModelManifestLoader.Load(_dir));
        Assert.Contains("convert_hf.py", error.Message);
    }

    [SkippableFact]
    public void A_graph_that_disagrees_with_its_manifest_fails_at_load()
    {
        // The Silero VAD graph has no [batch, samples] → [batch, labels] signature.
        File.Copy(TestPaths.RequireVadModel(), Path.Combine(_dir, "model.onnx"));
        Write("manifest.json", """{"labels":["a","b"],"input":"input","output":"output"}""");
        var manifest = ModelManifestLoader.Load(_dir);
        var error = Assert.Throws<InvalidDataException>(() => OnnxEmotionClassifier.Load(manifest));
        Assert.Contains("disagrees with its manifest", error.Message);
    }

    [Fact]
    public void A_truncated_model_file_fails_at_load_naming_the_file()
    {
        Write("model.onnx", "\x08\x07\x12");
        Write("manifest.json", """{"labels":["a","b"]}""");
        var manifest = ModelManifestLoader.Load(_dir);
        var error = Assert.ThrowsAny<Exception>(() => OnnxEmotionClassifier.Load(manifest));
        Assert.Contains("model.onnx", error.Message);
    }
}
