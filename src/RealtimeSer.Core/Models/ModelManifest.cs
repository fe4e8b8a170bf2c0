using System.Text.Json;

namespace RealtimeSer.Core.Models;

public enum ModelOutputKind
{
    Logits,
    Probabilities,
}

public enum InputNormalization
{
    None,

    /// <summary>Each window scaled to zero mean and unit variance (epsilon 1e-7), as Wav2Vec2FeatureExtractor does.</summary>
    ZeroMeanUnitVariance,
}

/// <summary>
/// What the engine needs to know about an emotion model besides its graph: labels, input contract,
/// normalization and window limits. Read from the project's <c>manifest.json</c> or from an exported
/// Hugging Face directory (<c>config.json</c> id2label + <c>preprocessor_config.json</c>).
/// </summary>
public sealed record ModelManifest
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public required string ModelPath { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public int SampleRate { get; init; } = 16000;
    public string Input { get; init; } = "input_values";
    public string Output { get; init; } = "logits";
    public ModelOutputKind OutputKind { get; init; } = ModelOutputKind.Logits;
    public InputNormalization Normalization { get; init; } = InputNormalization.None;

    /// <summary>Shortest window the model was trained to judge; shorter speech is padded to it.</summary>
    public double MinWindowSeconds { get; init; } = 0.5;
    public double RecommendedWindowSeconds { get; init; } = 2.0;
    public double RecommendedHopSeconds { get; init; } = 0.5;

    /// <summary>The manifest's metrics block, kept as written (shown by <c>ser models</c>).</summary>
    public JsonElement? Metrics { get; init; }

    public string? Source { get; init; }

    /// <summary>The corpora the model learned from, with their terms (manifest <c>source.corpora</c>); empty when unknown.</summary>
    public IReadOnlyList<TrainingCorpus> TrainingCorpora { get; init; } = [];

    /// <summary>The temperature the logits were divided by inside the graph (1 when not calibrated).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>
    /// Per-channel speaker normalisation between the model's feature graph and its head (manifest
    /// <c>adaptation</c>); null for models whose graph gives scores directly.
    /// </summary>
    public SpeakerAdaptation? Adaptation { get; init; }

    /// <summary>Directory that holds the model.</summary>
    public string Directory => Path.GetDirectoryName(Path.GetFullPath(ModelPath))!;
}

/// <summary>One corpus a model was trained on: its id, language and licence as the corpus states it.</summary>
public sealed record TrainingCorpus(string Id, string? Language, string? Licence);

/// <summary>
/// How a two-graph model adapts to each channel's speaker: the feature graph (<see cref="ModelManifest.ModelPath"/>)
/// gives a vector per window; each channel keeps running sums of those vectors, starting from
/// <see cref="PriorWindows"/> pseudo-windows with <see cref="PriorMean"/> and <see cref="PriorVariance"/> (the
/// training speakers' statistics), z-normalises every window with them and runs the head graph on the result.
/// </summary>
public sealed record SpeakerAdaptation(
    string HeadPath,
    string HeadInput,
    string HeadOutput,
    double PriorWindows,
    float[] PriorMean,
    float[] PriorVariance
)
{
    public int FeatureCount => PriorMean.Length;

    /// <summary>
    /// The cold-start path (manifest <c>adaptation.cold_start</c>): a head that needs no speaker statistics,
    /// blended with the adapted head while the channel has heard little speech; null for models without one.
    /// </summary>
    public ColdStart? ColdStart { get; init; }
}

/// <summary>How scores of two heads are blended.</summary>
public enum BlendSpace
{
    /// <summary><c>p = w·softmax(cold) + (1 − w)·softmax(adapted)</c>; the logits reported are <c>log p</c>.</summary>
    Probabilities,

    /// <summary><c>logits = w·cold + (1 − w)·adapted</c>.</summary>
    Logits,
}

/// <summary>
/// A channel's first windows judged without its speaker's statistics: <see cref="HeadPath"/> maps the feature
/// graph's raw output (<see cref="HeadInput"/>, not speaker-normalised; any normalisation is inside the graph) to
/// logits (<see cref="HeadOutput"/>), and <see cref="Blend"/> says how much of each window's scores come from it.
/// A clip judged alone is the first window of a new channel.
/// </summary>
public sealed record ColdStart(string HeadPath, string HeadInput, string HeadOutput, ColdStartBlend Blend);

/// <summary>
/// The cold head's weight as a function of the windows a channel has adapted on (the current one included):
/// <see cref="ColdWeight"/>[i] at <see cref="Windows"/>[i], linear in log(windows) between knots and constant
/// outside them; the blend's logits are then divided by <see cref="Temperature"/> at the same knots (all 1 when
/// the manifest gives none). Fitted on dev speakers (tools/model/coldstart.py).
/// </summary>
public sealed record ColdStartBlend(
    BlendSpace Space,
    double[] Windows,
    double[] ColdWeight,
    double[]? Temperature = null
)
{
    /// <summary>The cold head's weight for a window that is the channel's <paramref name="windows"/>-th.</summary>
    public double WeightAt(long windows) => At(ColdWeight, windows);

    /// <summary>The temperature of the blended logits for the channel's <paramref name="windows"/>-th window.</summary>
    public double TemperatureAt(long windows) => Temperature is null ? 1.0 : At(Temperature, windows);

    private double At(double[] values, long windows)
    {
        if (windows <= Windows[0])
        {
            return values[0];
        }
        var last = Windows.Length - 1;
        if (windows >= Windows[last])
        {
            return values[last];
        }
        var k = 0;
        while (Windows[k + 1] <= windows)
        {
            k++;
        }
        var t =
            (Math.Log(windows) - Math.Log(Windows[k])) / (Math.Log(Windows[k + 1]) - Math.Log(Windows[k]));
        return values[k] + (t * (values[k + 1] - values[k]));
    }
}
