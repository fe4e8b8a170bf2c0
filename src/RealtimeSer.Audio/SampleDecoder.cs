using System.Buffers.Binary;

namespace RealtimeSer.Audio;

/// <summary>Converts whole frames of stored samples (little-endian) to float32 in [-1, 1].</summary>
internal static class SampleDecoder
{
    public static void Decode(ReadOnlySpan<byte> source, AudioFormat format, Span<float> destination)
    {
        int count = source.Length / (format.BitsPerSample / 8);
        destination = destination[..count];
        switch (format.Encoding, format.BitsPerSample)
        {
            case (SampleEncoding.Pcm, 8):
                for (int i = 0; i < count; i++)
                {
                    destination[i] = (source[i] - 128) * (1f / 128f);
                }

                break;
            case (SampleEncoding.Pcm, 16):
                for (int i = 0; i < count; i++)
                {
                    destination[i] =
                        BinaryPrimitives.ReadInt16LittleEndian(source[(2 * i)..]) * (1f / 32768f);
                }

                break;
            case (SampleEncoding.Pcm, 24):
                for (int i = 0, b = 0; i < count; i++, b += 3)
                {
                    // Shift the 24 bits to the top of an int so the sign extends for free.
                    int v = (source[b] << 8) | (source[b + 1] << 16) | (source[b + 2] << 24);
                    destination[i] = (v >> 8) * (1f / 8388608f);
                }

                break;
            case (SampleEncoding.Pcm, 32):
                for (int i = 0; i < count; i++)
                {
                    destination[i] = (float)(
                        BinaryPrimitives.ReadInt32LittleEndian(source[(4 * i)..]) * (1.0 / 2147483648.0)
                    );
                }

                break;
            case (SampleEncoding.Float, 32):
                for (int i = 0; i < count; i++)
                {
                    destination[i] = Clamp(BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]));
                }

                break;
            case (SampleEncoding.Float, 64):
                for (int i = 0; i < count; i++)
                {
                    destination[i] = Clamp((float)BinaryPrimitives.ReadDoubleLittleEndian(source[(8 * i)..]));
                }

                break;
            case (SampleEncoding.MuLaw, 8):
            {
                ReadOnlySpan<float> table = G711.MuLawTable;
                for (int i = 0; i < count; i++)
                {
                    destination[i] = table[source[i]];
                }

                break;
            }
            case (SampleEncoding.ALaw, 8):
            {
                ReadOnlySpan<float> table = G711.ALawTable;
                for (int i = 0; i < count; i++)
                {
                    destination[i] = table[source[i]];
                }

                break;
            }
            default:
                throw new NotSupportedException(
                    $"{format.Encoding} with {format.BitsPerSample} bits per sample is not decodable."
                );
        }
    }

    public static bool IsSupported(SampleEncoding encoding, int bitsPerSample) =>
        (encoding, bitsPerSample) switch
        {
            (SampleEncoding.Pcm, 8 or 16 or 24 or 32) => true,
            (SampleEncoding.Float, 32 or 64) => true,
            (SampleEncoding.MuLaw or SampleEncoding.ALaw, 8) => true,
            _ => false,
        };

    // The reader promises [-1, 1]; float files may overshoot (or hold NaN) and models expect the range.
    private static float Clamp(float x) => float.IsNaN(x) ? 0f : Math.Clamp(x, -1f, 1f);
}
