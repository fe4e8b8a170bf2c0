using System.Buffers.Binary;
using Grpc.Core;
using RealtimeSer.Audio;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Server;

/// <summary>
/// Turns audio_content bytes into interleaved float frames. Messages may split a sample or a frame anywhere;
/// the few bytes of a partial frame wait for the next message.
/// </summary>
internal sealed class AudioDecoder
{
    private readonly AudioEncoding _encoding;
    private readonly int _bytesPerSample;
    private readonly int _bytesPerFrame;
    private readonly byte[] _carry;
    private int _carried;
    private float[] _output = [];

    public AudioDecoder(AudioEncoding encoding, int channels)
    {
        _encoding = encoding;
        _bytesPerSample = BytesPerSample(encoding);
        _bytesPerFrame = _bytesPerSample * channels;
        _carry = new byte[_bytesPerFrame];
    }

    public static int BytesPerSample(AudioEncoding encoding) =>
        encoding switch
        {
            AudioEncoding.Linear16 => 2,
            AudioEncoding.Float32 => 4,
            AudioEncoding.Mulaw or AudioEncoding.Alaw => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
        };

    public int BytesPerFrame => _bytesPerFrame;

    /// <summary>Decodes whole frames; the returned memory is valid until the next call.</summary>
    public ReadOnlyMemory<float> Decode(ReadOnlySpan<byte> bytes)
    {
        var total = _carried + bytes.Length;
        var frames = total / _bytesPerFrame;
        var samples = frames * _bytesPerFrame / _bytesPerSample;
        if (_output.Length < samples)
        {
            _output = new float[Math.Max(samples, _output.Length * 2)];
        }
        var written = 0;
        if (_carried > 0 && frames > 0)
        {
            var fill = _bytesPerFrame - _carried;
            bytes[..fill].CopyTo(_carry.AsSpan(_carried));
            written += DecodeSamples(_carry, _output.AsSpan(written));
            bytes = bytes[fill..];
            _carried = 0;
        }
        var whole = bytes.Length / _bytesPerFrame * _bytesPerFrame;
        written += DecodeSamples(bytes[..whole], _output.AsSpan(written));
        var rest = bytes[whole..];
        rest.CopyTo(_carry.AsSpan(_carried));
        _carried += rest.Length;
        return _output.AsMemory(0, written);
    }

    /// <summary>
    /// At the end of the audio: bytes that do not make a whole frame (an odd trailing byte of LINEAR16, part of
    /// a FLOAT32, one channel of a stereo frame) mean the client cut its audio wrongly; say so rather than drop
    /// them silently.
    /// </summary>
    public void EnsureWholeFrames() => EnsureWholeFrames(_carried);

    /// <summary><see cref="EnsureWholeFrames()"/> for audio of <paramref name="bytes"/> bytes in all, before decoding it.</summary>
    public void EnsureWholeFrames(long bytes)
    {
        var partial = bytes % _bytesPerFrame;
        if (partial > 0)
        {
            throw new RpcException(
                new Status(
                    StatusCode.InvalidArgument,
                    $"The audio ended with {partial} byte(s) that do not make a whole frame: {_encoding} with "
                        + $"{_bytesPerFrame / _bytesPerSample} channel(s) takes {_bytesPerFrame} bytes per frame ({_bytesPerSample} per "
                        + "sample, channels interleaved). Send whole samples of every channel."
                )
            );
        }
    }

    private int DecodeSamples(ReadOnlySpan<byte> bytes, Span<float> output)
    {
        var n = bytes.Length / _bytesPerSample;
        switch (_encoding)
        {
            case AudioEncoding.Linear16:
                for (var i = 0; i < n; i++)
                {
                    output[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]) / 32768f;
                }
                break;
            case AudioEncoding.Float32:
                for (var i = 0; i < n; i++)
                {
                    var x = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
                    // NaN and out-of-range values from a misbehaving client must not poison the models.
                    output[i] = float.IsFinite(x) ? Math.Clamp(x, -1f, 1f) : 0f;
                }
                break;
            case AudioEncoding.Mulaw:
                for (var i = 0; i < n; i++)
                {
                    output[i] = G711.MuLawToFloat(bytes[i]);
                }
                break;
            default:
                for (var i = 0; i < n; i++)
                {
                    output[i] = G711.ALawToFloat(bytes[i]);
                }
                break;
        }
        return n;
    }
}
