namespace RealtimeSer.Audio;

/// <summary>
/// Streams a WAV file (RIFF/WAVE or RF64) in blocks: PCM 8/16/24/32-bit, IEEE float 32/64, G.711 μ-law and A-law,
/// plain or WAVE_FORMAT_EXTENSIBLE. Memory use is constant whatever the length of the data chunk.
/// </summary>
/// <remarks>
/// A data chunk whose declared size is 0, 0xFFFFFFFF or larger than the file (a recording that was streamed or
/// cut off before its header was finalized) is read to the end of the stream; a trailing partial frame is dropped.
/// Float samples are clamped to [-1, 1] (NaN becomes 0) because every consumer assumes that range.
/// </remarks>
public sealed class WavReader : IAudioReader
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly FrameStreamReader _frames;

    /// <summary>Parses the header; throws <see cref="AudioFormatException"/> when the stream is not usable WAV.</summary>
    /// <param name="stream">The WAV bytes, positioned at the RIFF header; need not be seekable.</param>
    /// <param name="path">Names the source in error messages.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open when this reader is disposed.</param>
    public WavReader(Stream stream, string? path = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        Path = path;
        WavHeader.Result header;
        try
        {
            header = WavHeader.Parse(stream, path);
        }
        catch
        {
            if (!leaveOpen)
            {
                stream.Dispose();
            }

            throw;
        }

        Format = header.Format;
        TotalFrames = header.DataBytes >= 0 ? header.DataBytes / Format.BlockAlign : null;
        _frames = new FrameStreamReader(stream, Format, header.DataBytes);
    }

    public AudioFormat Format { get; }

    /// <summary>Frames in the data chunk; null when its size was not recorded (read to end of file).</summary>
    public long? TotalFrames { get; }

    /// <summary>The file this reader was opened from, when known.</summary>
    public string? Path { get; }

    /// <summary>Opens a WAV file for streaming.</summary>
    public static WavReader Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096);
        return new WavReader(stream, path);
    }

    public int Read(Span<float> destination) => _frames.Read(destination);

    public ValueTask<int> ReadAsync(
        Memory<float> destination,
        CancellationToken cancellationToken = default
    ) => _frames.ReadAsync(destination, cancellationToken);

    public void Dispose()
    {
        _frames.Dispose();
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }
}
