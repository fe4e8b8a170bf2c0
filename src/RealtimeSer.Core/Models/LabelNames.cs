namespace RealtimeSer.Core.Models;

/// <summary>
/// Emotion labels are lower-case English words everywhere in RealtimeSer, whatever spelling a checkpoint used
/// (ANG, Angry, anger...), so that events from different models can be compared and scripted against.
/// </summary>
public static class LabelNames
{
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ang"] = "angry",
        ["anger"] = "angry",
        ["angry"] = "angry",
        ["dis"] = "disgust",
        ["disgust"] = "disgust",
        ["disgusted"] = "disgust",
        ["fea"] = "fear",
        ["fear"] = "fear",
        ["fearful"] = "fear",
        ["hap"] = "happy",
        ["happy"] = "happy",
        ["happiness"] = "happy",
        ["joy"] = "happy",
        ["neu"] = "neutral",
        ["neutral"] = "neutral",
        ["sad"] = "sad",
        ["sadness"] = "sad",
        ["sur"] = "surprise",
        ["surprise"] = "surprise",
        ["surprised"] = "surprise",
        ["calm"] = "calm",
    };

    public static string Normalize(string label)
    {
        var trimmed = label.Trim();
        return Aliases.TryGetValue(trimmed, out var name) ? name : trimmed.ToLowerInvariant();
    }
}
