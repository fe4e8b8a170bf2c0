using System.Buffers.Binary;
using NAudio.Wave;

namespace RealtimeSer.Audio;

/// <summary>
/// Parses a RIFF/WAVE (or RF64/BW64) header up to the start of the data chunk, leaving the stream positioned at
/// the first sample. Reads forward only, so it also works on pipes and network streams.
/// </summary>
/// <remarks>
/// The 'fmt ' chunk itself is decoded by NAudio's <see cref="WaveFormat"/>. The chunk walk stays here because
/// NAudio's WaveFileReader seeks (it cannot read a pipe) and reads a streamed recording's zero data size as empty
/// (docs/architecture.md, "Audio formats").
/// </remarks>
internal static class WavHeader
{
    public const int MaxChannels = 32;
    public const int MinSampleRate = 1000;
    public const int MaxSampleRate = 384000;

    // KSDATAFORMAT_SUBTYPE_* GUIDs share these 14 bytes after the 2-byte format tag.
    private static ReadOnlySpan<byte> GuidTail =>
        [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <param name="Format">Source format.</param>
    /// <param name="DataBytes">Bytes of sample data, or -1 to read to end of stream.</param>
    public readonly record struct Result(AudioFormat Format, long DataBytes);

    public static Result Parse(Stream stream, string? path)
    {
        string name = path ?? "<stream>";
        Span<byte> header = stackalloc byte[12];
        ReadExactly(stream, header, name, "the RIFF header (12 bytes)");
        uint riffId = BinaryPrimitives.ReadUInt32BigEndian(header);
        bool rf64 =
            riffId
            is 0x52463634 /* RF64 */
                or 0x42573634 /* BW64 */
        ;
        if (
            riffId != 0x52494646 /* RIFF */
            && !rf64
        )
        {
            throw Error(name, "is not a WAV file (no RIFF header); convert it to WAV or install ffmpeg");
        }

        if (
            BinaryPrimitives.ReadUInt32BigEndian(header[8..]) != 0x57415645 /* WAVE */
        )
        {
            throw Unsupported(name, "is a RIFF file but not WAVE");
        }

        long? streamLength = stream.CanSeek ? stream.Length : null;
        long position = 12;
        long rf64DataSize = -1;
        AudioFormat? format = null;
        Span<byte> chunkHeader = stackalloc byte[8];
        Span<byte> fmt = stackalloc byte[40];
        while (true)
        {
            if (!TryReadExactly(stream, chunkHeader))
            {
                throw Error(
                    name,
                    format is null
                        ? "is truncated or has no 'fmt ' chunk (the header ends before the format is described)"
                        : "has no 'data' chunk (the header ends before any audio data)"
                );
            }

            position += 8;
            string id = ChunkId(chunkHeader);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(chunkHeader[4..]);
            long remaining = streamLength is { } len ? len - position : long.MaxValue;
            switch (id)
            {
                case "fmt ":
                {
                    if (size < 16)
                    {
                        throw Error(name, $"has a 'fmt ' chunk of {size} bytes; at least 16 are required");
                    }

                    int take = (int)Math.Min(size, fmt.Length);
                    ReadExactly(stream, fmt[..take], name, "the 'fmt ' chunk");
                    Skip(stream, Padded(size) - take, name, "the 'fmt ' chunk");
                    position += Padded(size);
                    format = ParseFormat(fmt[..take], name);
                    break;
                }
                case "ds64" when rf64:
                {
                    if (size < 24)
                    {
                        throw Error(name, $"has a 'ds64' chunk of {size} bytes; at least 24 are required");
                    }

                    Span<byte> ds64 = fmt[..24];
                    ReadExactly(stream, ds64, name, "the 'ds64' chunk");
                    rf64DataSize = BinaryPrimitives.ReadInt64LittleEndian(ds64[8..]);
                    Skip(stream, Padded(size) - 24, name, "the 'ds64' chunk");
                    position += Padded(size);
                    break;
                }
                case "data":
                {
                    if (format is null)
                    {
                        throw Error(
                            name,
                            "has its 'data' chunk before the 'fmt ' chunk; the format is unknown"
                        );
                    }

                    if (rf64 && size == 0xFFFFFFFF && rf64DataSize >= 0)
                    {
                        size = rf64DataSize;
                    }

                    // Streamed or truncated recordings leave the size 0, 0xFFFFFFFF or too large: read to end.
                    bool unknown = size == 0 || size == 0xFFFFFFFF || size > remaining;
                    return new Result(format, unknown ? -1 : size);
                }
                default:
                    // LIST, FLLR, bext, fact, JUNK, cue...: metadata we do not need.
                    if (Padded(size) > remaining)
                    {
                        throw Error(
                            name,
                            $"is truncated: chunk '{Printable(id)}' declares {size} bytes but only {remaining} remain"
                        );
                    }

                    Skip(stream, Padded(size), name, $"chunk '{Printable(id)}'");
                    position += Padded(size);
                    break;
            }
        }
    }

    private static AudioFormat ParseFormat(ReadOnlySpan<byte> fmt, string name)
    {
        WaveFormat wave = ReadWaveFormat(fmt, name);
        // NAudio reads the fields as signed; the WAV header stores them unsigned.
        int channels = (ushort)wave.Channels;
        uint rate = (uint)wave.SampleRate;
        int blockAlign = (ushort)wave.BlockAlign;
        int bits = (ushort)wave.BitsPerSample;
        if (channels == 0)
        {
            throw Error(name, "declares zero channels");
        }

        if (channels > MaxChannels)
        {
            throw Error(name, $"declares {channels} channels; at most {MaxChannels} are supported");
        }

        if (rate is < MinSampleRate or > MaxSampleRate)
        {
            throw Error(
                name,
                $"declares a sample rate of {rate} Hz; expected {MinSampleRate}–{MaxSampleRate} Hz (corrupt header?)"
            );
        }

        // Mapped only now: NAudio throws ArgumentException on the implausible fields rejected above.
        WaveFormatEncoding effectiveTag = wave.Encoding;
        if (wave.Encoding == WaveFormatEncoding.Extensible)
        {
            if (fmt.Length < 40 || wave.ExtraSize < 22)
            {
                throw Error(
                    name,
                    "uses WAVE_FORMAT_EXTENSIBLE but its 'fmt ' chunk is too short for the sub-format"
                );
            }

            WaveFormat standard = FromNAudio(wave.AsStandardWaveFormat, name);
            // NAudio maps the PCM and IEEE float sub-formats; G.711 and others keep their tag in the GUID's first bytes.
            effectiveTag =
                standard.Encoding != WaveFormatEncoding.Extensible
                    ? standard.Encoding
                    : SubFormatTag(fmt[24..40], name);
        }

        SampleEncoding encoding = effectiveTag switch
        {
            WaveFormatEncoding.Pcm => SampleEncoding.Pcm,
            WaveFormatEncoding.IeeeFloat => SampleEncoding.Float,
            WaveFormatEncoding.MuLaw => SampleEncoding.MuLaw,
            WaveFormatEncoding.ALaw => SampleEncoding.ALaw,
            _ => throw Unsupported(
                name,
                $"uses WAV format tag 0x{(ushort)effectiveTag:X4}, which is not decoded natively "
                    + "(supported: PCM, IEEE float, G.711 μ-law/A-law); convert it with ffmpeg or sox"
            ),
        };

        if (!SampleDecoder.IsSupported(encoding, bits))
        {
            throw Unsupported(
                name,
                $"has {bits} bits per sample for {encoding}; supported: PCM 8/16/24/32, float 32/64, G.711 8"
            );
        }

        if (blockAlign != channels * (bits / 8))
        {
            throw Error(
                name,
                $"declares a block align of {blockAlign} bytes but {channels} channel(s) of {bits}-bit samples "
                    + $"need {channels * (bits / 8)}"
            );
        }

        return new AudioFormat((int)rate, channels, encoding, bits);
    }

    private static WaveFormat ReadWaveFormat(ReadOnlySpan<byte> fmt, string name)
    {
        int length = fmt.Length;
        using var reader = new BinaryReader(new MemoryStream(fmt.ToArray(), writable: false));
        return FromNAudio(() => WaveFormat.FromFormatChunk(reader, length), name);
    }

    /// <summary>Runs an NAudio parse; what it throws on a malformed header becomes our error, naming the file.</summary>
    private static WaveFormat FromNAudio(Func<WaveFormat> parse, string name)
    {
        try
        {
            return parse();
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ArgumentException)
        {
            throw new AudioFormatException(
                $"WAV file '{name}' has a malformed 'fmt ' chunk ({e.Message}); re-encode it with ffmpeg or sox.",
                name == "<stream>" ? null : name,
                e
            );
        }
    }

    private static WaveFormatEncoding SubFormatTag(ReadOnlySpan<byte> guid, string name)
    {
        if (!guid[2..].SequenceEqual(GuidTail))
        {
            throw Unsupported(name, $"has an unknown WAVE_FORMAT_EXTENSIBLE sub-format {new Guid(guid)}");
        }

        return (WaveFormatEncoding)BinaryPrimitives.ReadUInt16LittleEndian(guid);
    }

    private static long Padded(long size) => size + (size & 1);

    private static string ChunkId(ReadOnlySpan<byte> header) =>
        System.Text.Encoding.Latin1.GetString(header[..4]);

    private static string Printable(string id) =>
        id.All(c => c is >= ' ' and <= '~') ? id : string.Join(" ", id.Select(c => ((int)c).ToString("X2")));

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string what)
    {
        if (!TryReadExactly(stream, buffer))
        {
            throw Error(name, $"is truncated inside {what}");
        }
    }

    private static bool TryReadExactly(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0)
            {
                return false;
            }

            total += n;
        }

        return true;
    }

    private static void Skip(Stream stream, long count, string name, string what)
    {
        if (count <= 0)
        {
            return;
        }

        if (stream.CanSeek)
        {
            if (stream.Position + count > stream.Length)
            {
                throw Error(name, $"is truncated inside {what}");
            }

            stream.Seek(count, SeekOrigin.Current);
            return;
        }

        Span<byte> scratch = stackalloc byte[4096];
        while (count > 0)
        {
            int n = stream.Read(scratch[..(int)Math.Min(count, scratch.Length)]);
            if (n == 0)
            {
                throw Error(name, $"is truncated inside {what}");
            }

            count -= n;
        }
    }

    private static AudioFormatException Error(string name, string problem) =>
        new($"WAV file '{name}' {problem}.", name == "<stream>" ? null : name);

    private static AudioFormatException Unsupported(string name, string problem) =>
        new($"WAV file '{name}' {problem}.", name == "<stream>" ? null : name)
        {
            IsUnsupportedEncoding = true,
        };
}
