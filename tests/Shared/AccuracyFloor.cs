namespace RealtimeSer.Tests.Shared;

/// <summary>
/// Accuracy floors of the shipped models, and the truth of a labelled clip or turn for a model's own labels.
/// A floor is the accuracy measured today on a fixed sample minus a one-sided 99 % margin for a sample of that
/// size (2.33 standard errors of a proportion): a model that is as good as today's passes 99 times in 100 on a
/// fresh sample of the same size, and one that lost more than sampling noise fails.
/// </summary>
internal static class AccuracyFloor
{
    /// <summary>z of a one-sided 99 % bound.</summary>
    public const double Z = 2.33;

    public static double Margin(double measured, int n) => Z * Math.Sqrt(measured * (1 - measured) / n);

    public static double Of(double measured, int n) => measured - Margin(measured, n);

    /// <summary>The six emotion labels of CREMA-D's file names (AAAA_SSS_EEE_LL), as the models name them.</summary>
    public static readonly IReadOnlyDictionary<string, string> CremaEmotions = new Dictionary<string, string>(
        StringComparer.Ordinal
    )
    {
        ["ANG"] = "angry",
        ["DIS"] = "disgust",
        ["FEA"] = "fear",
        ["HAP"] = "happy",
        ["NEU"] = "neutral",
        ["SAD"] = "sad",
    };

    /// <summary>
    /// arousal3's mapping of emotions onto its levels, as it was trained (tools/model/corpora.py AROUSAL_MAP and
    /// models/arousal3/MODEL_CARD.md): sad is low, neutral neutral, angry, fear and happy high; disgust has no
    /// level (acted from cold contempt to loud revulsion) and is left out.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> ArousalOfEmotion = new Dictionary<
        string,
        string?
    >(StringComparer.Ordinal)
    {
        ["angry"] = "high",
        ["disgust"] = null,
        ["fear"] = "high",
        ["happy"] = "high",
        ["neutral"] = "neutral",
        ["sad"] = "low",
    };

    /// <summary>The emotion of a CREMA-D clip from its file name (1004_TSI_ANG_XX.wav → angry).</summary>
    public static string CremaEmotion(string fileName)
    {
        var parts = Path.GetFileNameWithoutExtension(fileName).Split('_');
        if (parts.Length != 4 || !CremaEmotions.TryGetValue(parts[2], out var emotion))
        {
            throw new ArgumentException($"not a CREMA-D clip name: {fileName}", nameof(fileName));
        }
        return emotion;
    }

    /// <summary>The CREMA-D actor of a clip (its first field).</summary>
    public static string CremaSpeaker(string fileName) => Path.GetFileName(fileName).Split('_')[0];

    /// <summary>
    /// What a model with <paramref name="modelLabels"/> should say for a clip of <paramref name="emotion"/>: the
    /// emotion itself for an emotion model, its arousal level for the arousal model, or null when the model has no
    /// label for it (disgust for arousal3).
    /// </summary>
    public static string? Truth(IReadOnlyList<string> modelLabels, string emotion)
    {
        if (modelLabels.SequenceEqual(["low", "neutral", "high"]))
        {
            return ArousalOfEmotion[emotion];
        }
        if (!modelLabels.Contains(emotion))
        {
            throw new InvalidOperationException(
                $"a model with labels [{string.Join(", ", modelLabels)}] has no label for {emotion}"
            );
        }
        return emotion;
    }
}
