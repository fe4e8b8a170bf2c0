namespace RealtimeSer.Audio.Tests;

/// <summary>
/// Independent reference decoders written from the G.711 segment tables (not from the code under test).
/// </summary>
internal static class ItuG711
{
    public static int MuLaw(byte code)
    {
        int c = ~code & 0xFF;
        int sign = c & 0x80;
        int segment = (c >> 4) & 7;
        int step = c & 0x0F;
        // Segment s spans (2^(s+5) − 33)·... : value = ((2·step + 33) · 2^segment − 33) · 4 in 16-bit scale.
        int magnitude = ((((2 * step) + 33) << segment) - 33) * 4;
        return sign != 0 ? -magnitude : magnitude;
    }

    public static int ALaw(byte code)
    {
        int c = code ^ 0x55;
        int sign = c & 0x80;
        int segment = (c >> 4) & 7;
        int step = c & 0x0F;
        int magnitude = segment == 0 ? (2 * step) + 1 : ((2 * step) + 33) << (segment - 1);
        magnitude *= 8; // 13-bit to 16-bit scale.
        return sign != 0 ? magnitude : -magnitude;
    }
}
