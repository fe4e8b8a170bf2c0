namespace RealtimeSer.Audio;

/// <summary>A decoded audio source: interleaved float32 frames in [-1, 1], read in blocks.</summary>
public interface IAudioReader : IDisposable
{
    /// <summary>The source format (decoded samples are always float32 in [-1, 1]).</summary>
    AudioFormat Format { get; }

    /// <summary>Frames (samples per channel) in the source when known up front.</summary>
    long? TotalFrames { get; }

    /// <summary>
    /// Reads up to <c>destination.Length / Channels</c> frames of interleaved samples; returns the frames
    /// read, 0 at the end. Fewer frames than asked are returned only at the end of the source.
    /// </summary>
    int Read(Span<float> destination);

    /// <inheritdoc cref="Read"/>
    ValueTask<int> ReadAsync(Memory<float> destination, CancellationToken cancellationToken = default);
}
