namespace RealtimeSer.Core.Vad;

/// <summary>
/// Voice activity settings. Defaults follow Silero's reference <c>VADIterator</c>, which is the behaviour
/// users of Silero expect; all durations are in stream time.
/// </summary>
public sealed record VadOptions
{
    /// <summary>Speech starts when a frame's probability reaches this.</summary>
    public float StartThreshold { get; init; } = 0.5f;

    /// <summary>Speech may end only after frames fall below this (hysteresis against flapping).</summary>
    public float EndThreshold { get; init; } = 0.35f;

    /// <summary>Speech shorter than this is discarded as a click or breath.</summary>
    public int MinSpeechMs { get; init; } = 250;

    /// <summary>Silence must last this long before a segment ends.</summary>
    public int MinSilenceMs { get; init; } = 100;

    /// <summary>Audio kept on each side of a segment so that word onsets and tails are not clipped.</summary>
    public int SpeechPadMs { get; init; } = 30;

    /// <summary>Longer speech is split (at the last pause when there was one) so events keep flowing.</summary>
    public double MaxSegmentSeconds { get; init; } = 30;

    public static VadOptions Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        // Written so that NaN fails every check: a NaN compares false both ways.
        if (!(StartThreshold is > 0 and < 1))
        {
            throw new ArgumentException(
                $"VAD start threshold must be in (0, 1); got {StartThreshold}.",
                nameof(StartThreshold)
            );
        }
        if (!(EndThreshold > 0 && EndThreshold <= StartThreshold))
        {
            throw new ArgumentException(
                $"VAD end threshold must be in (0, start threshold {StartThreshold}]; got {EndThreshold}.",
                nameof(EndThreshold)
            );
        }
        if (MinSpeechMs < 0 || MinSilenceMs < 0 || SpeechPadMs < 0)
        {
            throw new ArgumentException("VAD durations must not be negative.");
        }
        if (!(MaxSegmentSeconds > 0.5))
        {
            throw new ArgumentException(
                $"VAD maximum segment length must exceed 0.5 s; got {MaxSegmentSeconds}.",
                nameof(MaxSegmentSeconds)
            );
        }
    }
}
