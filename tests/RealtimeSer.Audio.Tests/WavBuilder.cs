using System.Buffers.Binary;
using System.Text;

namespace RealtimeSer.Audio.Tests;

/// <summary>Writes WAV files byte by byte so tests control every header field.</summary>
internal sealed class WavBuilder
{
    private readonly List<(string Id, byte[] Body)> _chunks = [];

    public static readonly Guid PcmSubFormat = new("00000001-0000-0010-8000-00aa00389b71");
    public static readonly Guid FloatSubFormat = new("00000003-0000-0010-8000-00aa00389b71");

    public uint? RiffSizeOverride { get; set; }

    public uint? DataSizeOverride { get; set; }

    public WavBuilder Fmt(ushort tag, int channels, int rate, int bits, int? blockAlign = null)
    {
        var body = new byte[16];
        int align = blockAlign ?? channels * bits / 8;
        BinaryPrimitives.WriteUInt16LittleEndian(body, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)(rate * align));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(12), (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(14), (ushort)bits);
        return Chunk("fmt ", body);
    }

    public WavBuilder FmtExtensible(Guid subFormat, int channels, int rate, int bits, int validBits)
    {
        var body = new byte[40];
        int align = channels * bits / 8;
        BinaryPrimitives.WriteUInt16LittleEndian(body, 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)(rate * align));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(12), (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(14), (ushort)bits);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(16), 22);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(18), (ushort)validBits);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(20), channels == 2 ? 3u : 4u);
        subFormat.TryWriteBytes(body.AsSpan(24));
        return Chunk("fmt ", body);
    }

    public WavBuilder Chunk(string id, byte[] body)
    {
        _chunks.Add((id, body));
        return this;
    }

    public WavBuilder Data(byte[] samples) => Chunk("data", samples);

    public byte[] Build()
    {
        using var ms = new MemoryStream();
        ms.Write("RIFF"u8);
        ms.Write(new byte[4]);
        ms.Write("WAVE"u8);
        Span<byte> size = stackalloc byte[4];
        foreach ((string id, byte[] body) in _chunks)
        {
            ms.Write(Encoding.ASCII.GetBytes(id));
            uint declared = id == "data" && DataSizeOverride is { } d ? d : (uint)body.Length;
            BinaryPrimitives.WriteUInt32LittleEndian(size, declared);
            ms.Write(size);
            ms.Write(body);
            if (body.Length % 2 == 1)
            {
                ms.WriteByte(0);
            }
        }

        byte[] bytes = ms.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(
            bytes.AsSpan(4),
            RiffSizeOverride ?? (uint)(bytes.Length - 8)
        );
        return bytes;
    }

    /// <summary>Offset of the first sample byte in <see cref="Build"/>'s output.</summary>
    public int DataOffset()
    {
        int offset = 12;
        foreach ((string id, byte[] body) in _chunks)
        {
            offset += 8;
            if (id == "data")
            {
                return offset;
            }

            offset += body.Length + (body.Length % 2);
        }

        throw new InvalidOperationException("no data chunk");
    }
}

/// <summary>A read-only stream that cannot seek and returns at most a few bytes per read, like a pipe.</summary>
internal sealed class TrickleStream(byte[] data, int maxPerRead = 3) : Stream
{
    private int _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(buffer.Length, maxPerRead), data.Length - _position);
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override void Flush() { }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
