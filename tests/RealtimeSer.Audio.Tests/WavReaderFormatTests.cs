using System.Buffers.Binary;

namespace RealtimeSer.Audio.Tests;

public class WavReaderFormatTests
{
    private const int Frames = 1500;
    private const int Channels = 2;

    /// <summary>Deterministic stereo test signal spanning the full range, including both extremes.</summary>
    private static double[] Source()
    {
        var rng = new Random(1234);
        var x = new double[Frames * Channels];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = Math.Clamp(0.8 * Math.Sin(i * 0.013) + (0.4 * (rng.NextDouble() - 0.5)), -1, 1);
        }

        x[0] = -1;
        x[1] = 1;
        return x;
    }

    public static TheoryData<string> Formats =>
        [
            "pcm8",
            "pcm16",
            "pcm24",
            "pcm32",
            "float32",
            "float64",
            "mulaw",
            "alaw",
            "ext-pcm16",
            "ext-pcm24in32",
            "ext-float32",
        ];

    private static (WavBuilder Builder, float[] Expected, AudioFormat Format) Make(
        string kind,
        int rate = 22050
    )
    {
        double[] x = Source();
        var expected = new float[x.Length];
        byte[] data;
        var b = new WavBuilder();
        AudioFormat format;
        switch (kind)
        {
            case "pcm8":
                data = new byte[x.Length];
                for (int i = 0; i < x.Length; i++)
                {
                    int q = (int)Math.Clamp(Math.Round(x[i] * 128), -128, 127);
                    data[i] = (byte)(q + 128);
                    expected[i] = q / 128f;
                }

                b.Fmt(1, Channels, rate, 8);
                format = new AudioFormat(rate, Channels, SampleEncoding.Pcm, 8);
                break;
            case "pcm16" or "ext-pcm16":
                data = new byte[x.Length * 2];
                for (int i = 0; i < x.Length; i++)
                {
                    short q = (short)Math.Clamp(Math.Round(x[i] * 32768), short.MinValue, short.MaxValue);
                    BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2 * i), q);
                    expected[i] = q / 32768f;
                }

                _ =
                    kind == "pcm16"
                        ? b.Fmt(1, Channels, rate, 16)
                        : b.FmtExtensible(WavBuilder.PcmSubFormat, Channels, rate, 16, 16);
                format = new AudioFormat(rate, Channels, SampleEncoding.Pcm, 16);
                break;
            case "pcm24":
                data = new byte[x.Length * 3];
                for (int i = 0; i < x.Length; i++)
                {
                    int q = (int)Math.Clamp(Math.Round(x[i] * 8388608), -8388608, 8388607);
                    data[3 * i] = (byte)q;
                    data[(3 * i) + 1] = (byte)(q >> 8);
                    data[(3 * i) + 2] = (byte)(q >> 16);
                    expected[i] = q / 8388608f;
                }

                b.Fmt(1, Channels, rate, 24);
                format = new AudioFormat(rate, Channels, SampleEncoding.Pcm, 24);
                break;
            case "pcm32":
                data = new byte[x.Length * 4];
                for (int i = 0; i < x.Length; i++)
                {
                    int q = (int)Math.Clamp(Math.Round(x[i] * 2147483648.0), int.MinValue, int.MaxValue);
                    BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4 * i), q);
                    expected[i] = (float)(q / 2147483648.0);
                }

                b.Fmt(1, Channels, rate, 32);
                format = new AudioFormat(rate, Channels, SampleEncoding.Pcm, 32);
                break;
            case "ext-pcm24in32":
                data = new byte[x.Length * 4];
                for (int i = 0; i < x.Length; i++)
                {
                    int q = (int)Math.Clamp(Math.Round(x[i] * 8388608), -8388608, 8388607);
                    BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4 * i), q << 8);
                    expected[i] = q / 8388608f;
                }

                b.FmtExtensible(WavBuilder.PcmSubFormat, Channels, rate, 32, 24);
                format = new AudioFormat(rate, Channels, SampleEncoding.Pcm, 32);
                break;
            case "float32" or "ext-float32":
                data = new byte[x.Length * 4];
                for (int i = 0; i < x.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), (float)x[i]);
                    expected[i] = (float)x[i];
                }

                _ =
                    kind == "float32"
                        ? b.Fmt(3, Channels, rate, 32)
                        : b.FmtExtensible(WavBuilder.FloatSubFormat, Channels, rate, 32, 32);
                format = new AudioFormat(rate, Channels, SampleEncoding.Float, 32);
                break;
            case "float64":
                data = new byte[x.Length * 8];
                for (int i = 0; i < x.Length; i++)
                {
                    BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8 * i), x[i]);
                    expected[i] = (float)x[i];
                }

                b.Fmt(3, Channels, rate, 64);
                format = new AudioFormat(rate, Channels, SampleEncoding.Float, 64);
                break;
            case "mulaw" or "alaw":
                data = new byte[x.Length];
                for (int i = 0; i < x.Length; i++)
                {
                    data[i] = (byte)(i * 7); // Every code value appears.
                    expected[i] =
                        kind == "mulaw" ? ItuG711.MuLaw(data[i]) / 32768f : ItuG711.ALaw(data[i]) / 32768f;
                }

                b.Fmt(kind == "mulaw" ? (ushort)7 : (ushort)6, Channels, 8000, 8);
                b.Chunk("fact", BitConverter.GetBytes(Frames));
                format = new AudioFormat(
                    8000,
                    Channels,
                    kind == "mulaw" ? SampleEncoding.MuLaw : SampleEncoding.ALaw,
                    8
                );
                break;
            default:
                throw new ArgumentException(kind);
        }

        // Metadata chunks that real files carry, odd sizes included, before and after the data.
        b.Chunk("LIST", [.. "INFOISFT"u8, 5, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c', (byte)'d', 0]);
        b.Chunk("FLLR", new byte[4042]);
        b.Chunk("bext", new byte[603]);
        b.Chunk("JUNK", [1, 2, 3]);
        b.Data(data);
        b.Chunk("LIST", new byte[77]);
        return (b, expected, format);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Decodes_every_format_to_the_source_values(string kind)
    {
        (WavBuilder builder, float[] expected, AudioFormat format) = Make(kind);
        using var reader = new WavReader(new MemoryStream(builder.Build()), $"{kind}.wav");
        Assert.Equal(format, reader.Format);
        Assert.Equal(Frames, reader.TotalFrames);
        float[] actual = TestData.ReadAll(reader);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(
                Math.Abs(expected[i] - actual[i]) <= 1e-7f,
                $"{kind}: sample {i} expected {expected[i]} got {actual[i]}"
            );
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Tiny_and_odd_sized_reads_from_a_pipe_match_one_shot(string kind)
    {
        (WavBuilder builder, _, _) = Make(kind);
        byte[] bytes = builder.Build();
        float[] oneShot;
        using (var reader = new WavReader(new MemoryStream(bytes)))
        {
            oneShot = new float[(Frames + 10) * Channels];
            int frames = reader.Read(oneShot);
            Assert.Equal(Frames, frames);
            Assert.Equal(0, reader.Read(oneShot));
            oneShot = oneShot[..(frames * Channels)];
        }

        var rng = new Random(7);
        using var trickle = new WavReader(new TrickleStream(bytes, maxPerRead: 5));
        var collected = new List<float>();
        var buffer = new float[64];
        while (true)
        {
            // 1..9 floats: often not a whole number of stereo frames, and sometimes less than one frame.
            int size = rng.Next(1, 10);
            int n = trickle.Read(buffer.AsSpan(0, size));
            if (n == 0 && size >= Channels)
            {
                break;
            }

            Assert.True(n <= size / Channels);
            collected.AddRange(buffer.AsSpan(0, n * Channels));
        }

        Assert.Equal(oneShot, collected.ToArray());
    }

    [Fact]
    public async Task ReadAsync_matches_Read()
    {
        (WavBuilder builder, float[] expected, _) = Make("pcm24");
        using var reader = new WavReader(new TrickleStream(builder.Build(), 1000));
        var collected = new List<float>();
        var buffer = new float[333];
        int n;
        while ((n = await reader.ReadAsync(buffer)) > 0)
        {
            collected.AddRange(buffer.AsSpan(0, n * Channels));
        }

        Assert.Equal(expected, collected.ToArray());
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0x7FFFFFF0u)]
    public void Unknown_or_oversized_data_size_reads_to_end_of_file(uint declared)
    {
        var builder = new WavBuilder { DataSizeOverride = declared, RiffSizeOverride = declared };
        var data = new byte[1001]; // Odd: the last byte is half a 16-bit frame and must be dropped.
        for (int i = 0; i < 500; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2 * i), (short)(i * 50));
        }

        byte[] bytes = builder.Fmt(1, 1, 16000, 16).Data(data).Build();
        bytes = bytes[..^1]; // Drop the pad byte so the file really ends mid-frame.
        foreach (Stream stream in new Stream[] { new MemoryStream(bytes), new TrickleStream(bytes, 100) })
        {
            using var reader = new WavReader(stream);
            if (declared is 0 or 0xFFFFFFFF || stream.CanSeek)
            {
                Assert.Null(reader.TotalFrames);
            }

            float[] samples = TestData.ReadAll(reader, 77);
            Assert.Equal(500, samples.Length);
            Assert.Equal(499 * 50 / 32768f, samples[499]);
        }
    }

    [Fact]
    public void Declared_data_size_stops_before_trailing_chunks()
    {
        var data = new byte[20];
        byte[] bytes = new WavBuilder()
            .Fmt(1, 1, 16000, 16)
            .Data(data)
            .Chunk("LIST", Enumerable.Repeat((byte)0x7F, 400).ToArray())
            .Build();
        using var reader = new WavReader(new MemoryStream(bytes));
        float[] samples = TestData.ReadAll(reader);
        Assert.Equal(10, samples.Length);
        Assert.All(samples, s => Assert.Equal(0f, s));
    }

    [Fact]
    public void Float_samples_outside_the_range_are_clamped()
    {
        var data = new byte[16];
        BinaryPrimitives.WriteSingleLittleEndian(data, 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), float.NaN);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(12), 0.25f);
        using var reader = new WavReader(
            new MemoryStream(new WavBuilder().Fmt(3, 1, 16000, 32).Data(data).Build())
        );
        Assert.Equal([1f, -1f, 0f, 0.25f], TestData.ReadAll(reader));
    }

    [Fact]
    public void Rf64_uses_the_ds64_data_size()
    {
        var data = new byte[40];
        for (int i = 0; i < 20; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2 * i), (short)(1000 * i));
        }

        var ds64 = new byte[28];
        BinaryPrimitives.WriteInt64LittleEndian(ds64.AsSpan(8), 30); // Only the first 15 samples count.
        byte[] bytes = new WavBuilder { DataSizeOverride = 0xFFFFFFFF }
            .Chunk("ds64", ds64)
            .Fmt(1, 1, 16000, 16)
            .Data(data)
            .Build();
        "RF64"u8.CopyTo(bytes);
        using var reader = new WavReader(new MemoryStream(bytes));
        Assert.Equal(15, reader.TotalFrames);
        Assert.Equal(15, TestData.ReadAll(reader).Length);
    }

    [Fact]
    public void Streaming_a_long_file_uses_constant_memory()
    {
        // 30 minutes of 16 kHz mono PCM16 (57.6 MB) generated on the fly: the reader must not buffer it.
        long dataBytes = 30L * 60 * 16000 * 2;
        byte[] header = new WavBuilder().Fmt(1, 1, 16000, 16).Data([]).Build();
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(header.Length - 4), (uint)dataBytes);
        using var stream = new SyntheticStream(header, dataBytes);
        using var reader = new WavReader(stream);
        var buffer = new float[4096];
        long frames = 0;
        _ = reader.Read(buffer); // Warm up (pool rent, JIT).
        long before = GC.GetAllocatedBytesForCurrentThread();
        int n;
        while ((n = reader.Read(buffer)) > 0)
        {
            frames += n;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal((dataBytes / 2) - 4096, frames);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes while streaming");
    }

    /// <summary>A header followed by <c>length</c> generated bytes, never materialized.</summary>
    private sealed class SyntheticStream(byte[] header, long length) : Stream
    {
        private long _position;

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
            long total = header.Length + length;
            int n = (int)Math.Min(buffer.Length, total - _position);
            for (int i = 0; i < n; i++)
            {
                long p = _position + i;
                buffer[i] = p < header.Length ? header[p] : (byte)(p * 31);
            }

            _position += n;
            return n;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
