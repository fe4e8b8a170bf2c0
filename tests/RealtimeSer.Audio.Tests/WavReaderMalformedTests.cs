using System.Buffers.Binary;
using System.Diagnostics;

namespace RealtimeSer.Audio.Tests;

public class WavReaderMalformedTests
{
    private static WavBuilder Valid() =>
        new WavBuilder()
            .Chunk("LIST", new byte[13])
            .Fmt(1, 2, 16000, 16)
            .Chunk("fact", new byte[4])
            .Data(new byte[64]);

    private static AudioFormatException Fails(byte[] bytes, bool pipe = false)
    {
        var ex = Assert.Throws<AudioFormatException>(() =>
        {
            using var reader = new WavReader(
                pipe ? new TrickleStream(bytes, 7) : new MemoryStream(bytes),
                "bad.wav"
            );
            _ = TestData.ReadAll(reader);
        });
        Assert.Contains("bad.wav", ex.Message, StringComparison.Ordinal);
        Assert.Equal("bad.wav", ex.Path);
        return ex;
    }

    [Fact]
    public void Truncation_at_every_header_offset_throws_AudioFormatException()
    {
        WavBuilder builder = Valid();
        byte[] bytes = builder.Build();
        int dataOffset = builder.DataOffset();
        for (int length = 0; length < dataOffset; length++)
        {
            byte[] cut = bytes[..length];
            Fails(cut);
            Fails(cut, pipe: true);
        }

        // From the first sample on, a cut file is a truncated recording: readable up to the cut.
        using var reader = new WavReader(new MemoryStream(bytes[..(dataOffset + 10)]));
        Assert.Equal(2, TestData.ReadAll(reader).Length / 2);
    }

    [Theory]
    [InlineData(0x0002, 16, "0x0002")] // MS ADPCM
    [InlineData(0x0055, 16, "0x0055")] // MP3 in WAV
    [InlineData(0x0001, 12, "12 bits")]
    [InlineData(0x0003, 16, "16 bits")]
    [InlineData(0x0007, 16, "16 bits")]
    public void Unsupported_encodings_are_named(int tag, int bits, string expected)
    {
        byte[] bytes = new WavBuilder()
            .Fmt((ushort)tag, 1, 16000, bits, blockAlign: 2)
            .Data(new byte[8])
            .Build();
        Assert.Contains(expected, Fails(bytes).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 16000, 2, "zero channels")]
    [InlineData(33, 16000, 66, "33 channels")]
    [InlineData(1, 0, 2, "sample rate of 0")]
    [InlineData(1, 999, 2, "sample rate of 999")]
    [InlineData(1, 384001, 2, "sample rate of 384001")]
    [InlineData(2, 16000, 2, "block align")]
    [InlineData(1, 16000, 3, "block align")]
    public void Implausible_fmt_fields_are_rejected(int channels, int rate, int blockAlign, string expected)
    {
        byte[] bytes = new WavBuilder().Fmt(1, channels, rate, 16, blockAlign).Data(new byte[8]).Build();
        Assert.Contains(expected, Fails(bytes).Message, StringComparison.Ordinal);
        Assert.Contains(expected, Fails(bytes, pipe: true).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_chunks_and_wrong_magic_are_reported()
    {
        Assert.Contains(
            "fmt",
            Fails(new WavBuilder().Data(new byte[8]).Build()).Message,
            StringComparison.Ordinal
        );
        Assert.Contains(
            "no 'data' chunk",
            Fails(new WavBuilder().Fmt(1, 1, 16000, 16).Build()).Message,
            StringComparison.Ordinal
        );
        Assert.Contains(
            "fmt",
            Fails(new WavBuilder().Chunk("LIST", new byte[4]).Build()).Message,
            StringComparison.Ordinal
        );
        byte[] notRiff = Valid().Build();
        "OggS"u8.CopyTo(notRiff);
        Assert.Contains("not a WAV", Fails(notRiff).Message, StringComparison.Ordinal);
        byte[] notWave = Valid().Build();
        "AVI "u8.CopyTo(notWave.AsSpan(8));
        Assert.Contains("not WAVE", Fails(notWave).Message, StringComparison.Ordinal);
        byte[] shortFmt = new WavBuilder().Chunk("fmt ", new byte[10]).Data(new byte[8]).Build();
        Assert.Contains("at least 16", Fails(shortFmt).Message, StringComparison.Ordinal);
        byte[] shortExtensible = new WavBuilder().Fmt(0xFFFE, 1, 16000, 16).Data(new byte[8]).Build();
        Assert.Contains("EXTENSIBLE", Fails(shortExtensible).Message, StringComparison.Ordinal);
        byte[] oddGuid = new WavBuilder()
            .FmtExtensible(new Guid("00000001-0000-0010-8000-00aa00389b72"), 1, 16000, 16, 16)
            .Data(new byte[8])
            .Build();
        Assert.Contains("sub-format", Fails(oddGuid).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void What_NAudio_throws_on_a_fmt_chunk_becomes_our_error()
    {
        // 17 bytes: a PCM format plus one byte of a 2-byte extra-size field, which NAudio reads past the end.
        byte[] body = new byte[17];
        BinaryPrimitives.WriteUInt16LittleEndian(body, 1);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), 16000);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(12), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(14), 16);
        byte[] bytes = new WavBuilder().Chunk("fmt ", body).Data(new byte[8]).Build();
        foreach (bool pipe in new[] { false, true })
        {
            var ex = Fails(bytes, pipe);
            Assert.Contains("malformed 'fmt ' chunk", ex.Message, StringComparison.Ordinal);
            Assert.IsType<EndOfStreamException>(ex.InnerException);
        }
    }

    [Fact]
    public void Huge_declared_chunk_sizes_fail_fast_instead_of_hanging()
    {
        foreach (string id in new[] { "LIST", "fmt " })
        {
            byte[] bytes = new WavBuilder()
                .Chunk(id, new byte[40])
                .Fmt(1, 1, 16000, 16)
                .Data(new byte[8])
                .Build();
            if (id == "fmt ")
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(20), 1);
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(22), 1);
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), 16000);
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(32), 2);
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(34), 16);
            }

            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 0xFFFFFFF0);
            var watch = Stopwatch.StartNew();
            Assert.Contains("truncated", Fails(bytes).Message, StringComparison.Ordinal);
            Assert.Contains("truncated", Fails(bytes, pipe: true).Message, StringComparison.Ordinal);
            Assert.True(watch.ElapsedMilliseconds < 2000);
        }
    }

    [Fact]
    public void Random_corruption_only_ever_raises_AudioFormatException()
    {
        byte[] valid = Valid().Build();
        var rng = new Random(42);
        int failures = 0;
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            byte[] bytes = (byte[])valid.Clone();
            int flips = rng.Next(1, 6);
            for (int f = 0; f < flips; f++)
            {
                bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            }

            try
            {
                using var reader = new WavReader(new MemoryStream(bytes));
                _ = TestData.ReadAll(reader, 5);
            }
            catch (AudioFormatException)
            {
                failures++;
            }
        }

        Assert.InRange(failures, 100, 2999); // Corruption in the header must be noticed often, not always.
    }

    [Fact]
    public void A_directory_is_named_as_one_not_refused_as_access_denied()
    {
        using var dir = new TempDir();
        var path = dir.File("calls.wav");
        Directory.CreateDirectory(path);
        var ex = Assert.Throws<AudioFormatException>(() => AudioFile.Open(path));
        Assert.Equal(path, ex.Path);
        Assert.Equal($"{path} is a directory, not an audio file.", ex.Message);
    }

    [Fact]
    public void Open_names_the_file()
    {
        using var dir = new TempDir();
        string path = dir.File("broken.wav");
        File.WriteAllBytes(path, Valid().Build()[..30]);
        var ex = Assert.Throws<AudioFormatException>(() => WavReader.Open(path));
        Assert.Equal(path, ex.Path);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        var viaAudioFile = Assert.Throws<AudioFormatException>(() => AudioFile.Open(path));
        Assert.Contains("truncated", viaAudioFile.Message, StringComparison.Ordinal);
    }
}
