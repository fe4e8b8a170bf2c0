using Xunit.Abstractions;

namespace RealtimeSer.Audio.Tests;

/// <summary>Compares against sox's very-high-quality "rate -v" as an independent reference.</summary>
public class ResamplerSoxTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData(8000)]
    [InlineData(22050)]
    [InlineData(44100)]
    [InlineData(48000)]
    public void Speech_matches_sox_within_40_dB(int sourceRate)
    {
        TestData.RequireTool("sox");
        string clip = TestData.FixtureClip();
        using var dir = new TempDir();
        string source = dir.File("source.wav");
        string reference = dir.File("reference.wav");
        // Real speech at the source rate (sox makes it), then both resamplers take it to 16 kHz.
        TestData.Run(
            "sox",
            clip,
            "-b",
            "32",
            "-e",
            "floating-point",
            source,
            "rate",
            "-v",
            sourceRate.ToString(System.Globalization.CultureInfo.InvariantCulture)
        );
        TestData.Run("sox", source, "-b", "32", "-e", "floating-point", reference, "rate", "-v", "16000");
        Compare(source, reference, sourceRate, "speech", 40);
    }

    [SkippableTheory]
    [InlineData(8000, 3900)]
    [InlineData(22050, 11000)]
    [InlineData(44100, 20000)]
    [InlineData(48000, 20000)]
    public void Sine_sweep_matches_sox_within_40_dB(int sourceRate, int topHz)
    {
        TestData.RequireTool("sox");
        using var dir = new TempDir();
        string source = dir.File("sweep.wav");
        string reference = dir.File("reference.wav");
        string rate = sourceRate.ToString(System.Globalization.CultureInfo.InvariantCulture);
        TestData.Run(
            "sox",
            "-n",
            "-r",
            rate,
            "-b",
            "32",
            "-e",
            "floating-point",
            "-c",
            "1",
            source,
            "synth",
            "3",
            "sine",
            $"50-{topHz}",
            "vol",
            "0.5"
        );
        TestData.Run("sox", source, "-b", "32", "-e", "floating-point", reference, "rate", "-v", "16000");
        Compare(source, reference, sourceRate, "sweep", 40);
    }

    private void Compare(string source, string reference, int sourceRate, string what, double minSnr)
    {
        float[] x = TestData.ReadWav(source);
        float[] expected = TestData.ReadWav(reference);
        float[] actual = SignalMath.Resample(x, sourceRate, 16000);
        (double snr, int lag) = SignalMath.Snr(expected, actual);
        output.WriteLine(
            $"{what} {sourceRate}→16000: SNR vs sox -v {snr:0.0} dB at lag {lag} (lengths ours {actual.Length}, sox {expected.Length})"
        );
        Assert.Equal(0, lag);
        Assert.InRange(actual.Length, expected.Length - 1, expected.Length + 1);
        Assert.True(snr >= minSnr, $"{what} {sourceRate}→16000: SNR {snr:0.0} dB < {minSnr} dB");
    }
}
