namespace RealtimeSer.Core.Pipeline;

/// <summary>Something a stream reports: speech boundaries, emotion results, or a failure of that stream.</summary>
public abstract record EngineEvent(string Stream, int Channel)
{
    /// <summary>Channel name when the stream was opened with names (agent, customer), else null.</summary>
    public string? ChannelName { get; init; }
}

/// <summary>Speech began (<see cref="IsStart"/>) or ended on a channel, at <see cref="Seconds"/> of stream time.</summary>
public sealed record SpeechEvent(string Stream, int Channel, int Segment, bool IsStart, double Seconds)
    : EngineEvent(Stream, Channel)
{
    /// <summary>For an end: where the segment started.</summary>
    public double StartSeconds { get; init; }

    internal long LastWindowSequence { get; init; } = -1;

    /// <summary>For an end: when the audio that ended the segment arrived (a final cannot be due earlier).</summary>
    internal long ArrivedAt { get; init; }
}

/// <summary>Latency breakdown of one result, in milliseconds of wall-clock time.</summary>
public readonly record struct EventLatency(
    double QueueMs,
    double InferenceMs,
    int BatchSize,
    double EndToEndMs
);

/// <summary>
/// An emotion result. Interim events come after each window (smoothed scores); exactly one final event per
/// speech segment carries the segment's bounds and its pooled scores.
/// </summary>
public sealed record EmotionEvent(
    string Stream,
    int Channel,
    int Segment,
    double StartSeconds,
    double EndSeconds,
    string Label,
    IReadOnlyList<string> Labels,
    float[] Scores,
    bool IsFinal,
    EventLatency Latency
) : EngineEvent(Stream, Channel)
{
    /// <summary>Windows that contributed (final events) or 1 (interim).</summary>
    public int Windows { get; init; } = 1;

    /// <summary>Windows of this segment lost to overload (live mode only).</summary>
    public int WindowsDropped { get; init; }

    /// <summary>
    /// Every model's result for the same windows, in the engine's model order; the first is the one that
    /// <see cref="Label"/> and <see cref="Scores"/> describe. Smoothed (interim) or pooled (final) per model.
    /// </summary>
    public IReadOnlyList<ModelScores> Models { get; init; } = [];

    public float ScoreOf(string label) => Scores[IndexOf(label)];

    private int IndexOf(string label)
    {
        for (var i = 0; i < Labels.Count; i++)
        {
            if (Labels[i] == label)
            {
                return i;
            }
        }
        throw new ArgumentException($"no label '{label}'", nameof(label));
    }
}

/// <summary>One model's label and scores on an event, and its share of the window's inference time.</summary>
public sealed record ModelScores(
    string Model,
    string Label,
    IReadOnlyList<string> Labels,
    float[] Scores,
    double InferenceMs
)
{
    public float ScoreOf(string label)
    {
        for (var i = 0; i < Labels.Count; i++)
        {
            if (Labels[i] == label)
            {
                return Scores[i];
            }
        }
        throw new ArgumentException($"model {Model} has no label '{label}'", nameof(label));
    }
}

/// <summary>The stream ended with an error (bad audio, say); other streams are unaffected.</summary>
public sealed record StreamFailedEvent(string Stream, Exception Error) : EngineEvent(Stream, -1);
