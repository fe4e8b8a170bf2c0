namespace RealtimeSer.Audio;

/// <summary>
/// ITU-T G.711 μ-law and A-law companding. Decoded values are the standard 16-bit linear values
/// (μ-law ±32124, A-law ±32256 at full scale) divided by 32768, matching sox and ffmpeg.
/// </summary>
public static class G711
{
    private const int MuLawBias = 0x84;
    private const int MuLawClip = 32635;

    // Tables because decoding runs per sample on every telephony stream.
    private static readonly float[] s_muLawTable = BuildTable(MuLawToLinear);
    private static readonly float[] s_aLawTable = BuildTable(ALawToLinear);

    public static float MuLawToFloat(byte b) => s_muLawTable[b];

    public static float ALawToFloat(byte b) => s_aLawTable[b];

    /// <summary>Encodes a sample in [-1, 1] (clipped outside) to μ-law.</summary>
    public static byte FloatToMuLaw(float x) => LinearToMuLaw(ToPcm16(x));

    /// <summary>Encodes a sample in [-1, 1] (clipped outside) to A-law.</summary>
    public static byte FloatToALaw(float x) => LinearToALaw(ToPcm16(x));

    internal static ReadOnlySpan<float> MuLawTable => s_muLawTable;

    internal static ReadOnlySpan<float> ALawTable => s_aLawTable;

    /// <summary>μ-law byte to the ITU 16-bit linear value.</summary>
    public static short MuLawToLinear(byte b)
    {
        int u = ~b & 0xFF;
        int exponent = (u >> 4) & 0x07;
        int mantissa = u & 0x0F;
        int magnitude = (((mantissa << 3) + MuLawBias) << exponent) - MuLawBias;
        return (short)((u & 0x80) != 0 ? -magnitude : magnitude);
    }

    /// <summary>A-law byte to the ITU 16-bit linear value.</summary>
    public static short ALawToLinear(byte b)
    {
        int a = b ^ 0x55;
        int t = (a & 0x0F) << 4;
        int segment = (a & 0x70) >> 4;
        t = segment == 0 ? t + 8 : (t + 0x108) << (segment - 1);
        return (short)((a & 0x80) != 0 ? t : -t);
    }

    /// <summary>16-bit linear value to μ-law.</summary>
    public static byte LinearToMuLaw(short sample)
    {
        int pcm = sample;
        int mask;
        if (pcm < 0)
        {
            pcm = -pcm;
            mask = 0x7F;
        }
        else
        {
            mask = 0xFF;
        }

        pcm = Math.Min(pcm, MuLawClip) + MuLawBias;
        int exponent = 7;
        for (int m = 0x4000; (pcm & m) == 0 && exponent > 0; m >>= 1)
        {
            exponent--;
        }

        int mantissa = (pcm >> (exponent + 3)) & 0x0F;
        return (byte)(((exponent << 4) | mantissa) ^ mask);
    }

    /// <summary>16-bit linear value to A-law.</summary>
    public static byte LinearToALaw(short sample)
    {
        int pcm = sample >> 3; // A-law works on 13-bit magnitudes.
        int mask;
        if (pcm >= 0)
        {
            mask = 0xD5;
        }
        else
        {
            mask = 0x55;
            pcm = -pcm - 1;
        }

        int segment = 0;
        for (int end = 0x1F; pcm > end && segment < 8; end = (end << 1) | 1)
        {
            segment++;
        }

        if (segment >= 8)
        {
            return (byte)(0x7F ^ mask);
        }

        int value = segment << 4;
        value |= segment < 2 ? (pcm >> 1) & 0x0F : (pcm >> segment) & 0x0F;
        return (byte)(value ^ mask);
    }

    private static short ToPcm16(float x)
    {
        float scaled = MathF.Round(x * 32768f);
        return (short)Math.Clamp(float.IsNaN(scaled) ? 0f : scaled, short.MinValue, short.MaxValue);
    }

    private static float[] BuildTable(Func<byte, short> decode)
    {
        var table = new float[256];
        for (int i = 0; i < 256; i++)
        {
            table[i] = decode((byte)i) / 32768f;
        }

        return table;
    }
}
