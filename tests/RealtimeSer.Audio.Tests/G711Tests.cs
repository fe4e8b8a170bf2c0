namespace RealtimeSer.Audio.Tests;

public class G711Tests
{
    [Theory]
    // μ-law: 0xFF/0x7F are ±0, 0x80/0x00 full scale ±32124, and segment boundaries from the G.711 tables.
    [InlineData(0xFF, 0)]
    [InlineData(0x7F, 0)]
    [InlineData(0x80, 32124)]
    [InlineData(0x00, -32124)]
    [InlineData(0xFE, 8)]
    [InlineData(0xEF, 132)]
    [InlineData(0xF0, 120)]
    [InlineData(0x8F, 16764)]
    [InlineData(0x70, -120)]
    public void MuLaw_decodes_to_ITU_values(int code, int linear)
    {
        Assert.Equal(linear, G711.MuLawToLinear((byte)code));
        Assert.Equal(linear / 32768f, G711.MuLawToFloat((byte)code));
    }

    [Theory]
    // A-law: 0xD5/0x55 are the smallest ±8, 0xAA/0x2A full scale ±32256 (even bits inverted per G.711).
    [InlineData(0xD5, 8)]
    [InlineData(0x55, -8)]
    [InlineData(0xAA, 32256)]
    [InlineData(0x2A, -32256)]
    [InlineData(0xC5, 264)]
    [InlineData(0xF5, 528)]
    [InlineData(0x80, 5504)]
    public void ALaw_decodes_to_ITU_values(int code, int linear)
    {
        Assert.Equal(linear, G711.ALawToLinear((byte)code));
        Assert.Equal(linear / 32768f, G711.ALawToFloat((byte)code));
    }

    [Fact]
    public void All_codes_match_the_segment_formula()
    {
        for (int code = 0; code < 256; code++)
        {
            Assert.Equal(ItuG711.MuLaw((byte)code), G711.MuLawToLinear((byte)code));
            Assert.Equal(ItuG711.ALaw((byte)code), G711.ALawToLinear((byte)code));
        }
    }

    [Fact]
    public void Decoded_codes_encode_back_to_themselves()
    {
        for (int code = 0; code < 256; code++)
        {
            byte mu = G711.FloatToMuLaw(G711.MuLawToFloat((byte)code));
            // μ-law has two zeros (0x7F, 0xFF); both decode to 0, which encodes as +0.
            Assert.Equal(code == 0x7F ? 0xFF : code, mu);
            Assert.Equal(code, G711.FloatToALaw(G711.ALawToFloat((byte)code)));
        }
    }

    [Fact]
    public void Round_trip_error_is_within_half_a_quantization_step()
    {
        for (int i = -32768; i <= 32767; i += 7)
        {
            float x = i / 32768f;
            float mu = G711.MuLawToFloat(G711.FloatToMuLaw(x));
            float a = G711.ALawToFloat(G711.FloatToALaw(x));
            double mag = Math.Abs(i);
            // Step size doubles per segment: μ-law step ≈ (|x|+132)/16, A-law ≈ max(16, |x|/16) in 16-bit units.
            double muBound = Math.Max(((mag + 132) / 16) + 1, 4) + (mag > 32124 ? mag - 32124 : 0);
            double aBound = Math.Max(16, mag / 16) + 1 + (mag > 32256 ? mag - 32256 : 0);
            Assert.True(Math.Abs(mu - x) * 32768 <= muBound, $"μ-law {i}: {mu * 32768}");
            Assert.True(Math.Abs(a - x) * 32768 <= aBound, $"A-law {i}: {a * 32768}");
        }
    }

    [Fact]
    public void Encoding_clips_out_of_range_and_NaN_input()
    {
        Assert.Equal(0x80, G711.FloatToMuLaw(5f));
        Assert.Equal(0x00, G711.FloatToMuLaw(-5f));
        Assert.Equal(0xAA, G711.FloatToALaw(5f));
        Assert.Equal(0x2A, G711.FloatToALaw(-5f));
        Assert.Equal(0f, G711.MuLawToFloat(G711.FloatToMuLaw(float.NaN)));
    }
}
