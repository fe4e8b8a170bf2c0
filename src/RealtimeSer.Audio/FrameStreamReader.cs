using System.Buffers;

namespace RealtimeSer.Audio;

/// <summary>
/// Streams whole frames of stored samples from a byte stream through one pooled buffer and decodes them,
/// so memory stays constant however long the source is. Shared by the WAV and ffmpeg readers.
/// </summary>
internal sealed class FrameStreamReader : IDisposable
{
    private const int BufferBytes = 64 * 1024;

    private readonly Stream _stream;
    private readonly AudioFormat _format;
    private readonly int _blockAlign;
    private byte[]? _buffer;
    private int _pending; // Bytes of an incomplete frame kept at the start of the buffer.
    private long _remainingBytes; // -1 when the length is unknown: read to end of stream.
    private bool _ended;

    public FrameStreamReader(Stream stream, AudioFormat format, long dataBytes)
    {
        _stream = stream;
        _format = format;
        _blockAlign = format.BlockAlign;
        _remainingBytes = dataBytes;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(BufferBytes, 2 * _blockAlign));
    }

    public int Read(Span<float> destination)
    {
        var (buffer, maxFrames) = Begin(destination.Length);
        int frames = 0;
        while (frames < maxFrames && !_ended)
        {
            int want = BytesWanted(buffer, maxFrames - frames);
            int n = want == 0 ? 0 : _stream.Read(buffer, _pending, want);
            frames += Consume(buffer, n, destination[(frames * _format.Channels)..]);
        }

        return frames;
    }

    public async ValueTask<int> ReadAsync(Memory<float> destination, CancellationToken cancellationToken)
    {
        var (buffer, maxFrames) = Begin(destination.Length);
        int channels = _format.Channels;
        int frames = 0;
        while (frames < maxFrames && !_ended)
        {
            int want = BytesWanted(buffer, maxFrames - frames);
            int n =
                want == 0
                    ? 0
                    : await _stream
                        .ReadAsync(buffer.AsMemory(_pending, want), cancellationToken)
                        .ConfigureAwait(false);
            frames += Consume(buffer, n, destination.Span[(frames * channels)..]);
        }

        return frames;
    }

    private (byte[] Buffer, int MaxFrames) Begin(int samples) =>
        (_buffer ?? throw new ObjectDisposedException(nameof(FrameStreamReader)), samples / _format.Channels);

    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private int BytesWanted(byte[] buffer, int framesLeft)
    {
        long want = Math.Min((long)framesLeft * _blockAlign, buffer.Length - _pending);
        want -= (want + _pending) % _blockAlign; // Whole frames where possible.
        if (want <= 0)
        {
            want = _blockAlign - _pending;
        }

        if (_remainingBytes >= 0)
        {
            want = Math.Min(want, _remainingBytes);
        }

        return (int)want;
    }

    private int Consume(byte[] buffer, int bytesRead, Span<float> destination)
    {
        if (bytesRead == 0)
        {
            // A trailing partial frame (truncated file) is dropped: it has no complete sample set.
            _ended = true;
            _pending = 0;
            return 0;
        }

        if (_remainingBytes >= 0)
        {
            _remainingBytes -= bytesRead;
        }

        int available = _pending + bytesRead;
        int frames = available / _blockAlign;
        int used = frames * _blockAlign;
        SampleDecoder.Decode(buffer.AsSpan(0, used), _format, destination);
        _pending = available - used;
        if (_pending > 0)
        {
            buffer.AsSpan(used, _pending).CopyTo(buffer);
        }

        if (_remainingBytes == 0)
        {
            _ended = true;
        }

        return frames;
    }
}
