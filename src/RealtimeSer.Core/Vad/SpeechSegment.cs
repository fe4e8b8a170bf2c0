namespace RealtimeSer.Core.Vad;

/// <summary>A span of speech in stream time (16 kHz samples), padding included.</summary>
public readonly record struct SpeechSegment(int Index, long StartSample, long EndSample)
{
    public const int SampleRate = 16000;

    public double StartSeconds => StartSample / (double)SampleRate;

    public double EndSeconds => EndSample / (double)SampleRate;

    public long Length => EndSample - StartSample;
}

public enum VadEventKind
{
    /// <summary>Speech was confirmed (it lasted the minimum); <see cref="VadEvent.Sample"/> is its padded start.</summary>
    SpeechStart,

    /// <summary>The segment ended; <see cref="VadEvent.Sample"/> is its padded end.</summary>
    SpeechEnd,
}

/// <summary>
/// A VAD transition. Starts are reported once the minimum speech length is confirmed, so they arrive late
/// but are back-dated to the true (padded) start.
/// </summary>
public readonly record struct VadEvent(VadEventKind Kind, int Segment, long Sample);
