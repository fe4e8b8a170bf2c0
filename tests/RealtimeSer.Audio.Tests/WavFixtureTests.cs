using System.Buffers.Binary;
using Xunit.Abstractions;

namespace RealtimeSer.Audio.Tests;

/// <summary>Real recordings from the shared corpus (skipped when it is absent).</summary>
public class WavFixtureTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Both_versions_of_the_call_decode_to_the_same_duration()
    {
        string pcm = TestData.RequireShared("fixtures", "calls", "call01_stereo16k.wav");
        string mulaw = TestData.RequireShared("fixtures", "calls", "call01_mulaw8k.wav");
        using var a = AudioFile.Open(pcm);
        using var b = AudioFile.Open(mulaw);
        Assert.Equal(new AudioFormat(16000, 2, SampleEncoding.Pcm, 16), a.Format);
        Assert.Equal(new AudioFormat(8000, 2, SampleEncoding.MuLaw, 8), b.Format);
        long framesA = CountFrames(a, 1000);
        long framesB = CountFrames(b, 777);
        Assert.Equal(a.TotalFrames, framesA);
        Assert.Equal(b.TotalFrames, framesB);
        double secondsA = (double)framesA / 16000;
        double secondsB = (double)framesB / 8000;
        output.WriteLine($"stereo16k {secondsA:0.000} s, mulaw8k {secondsB:0.000} s");
        Assert.InRange(secondsA, 195, 197);
        Assert.Equal(secondsA, secondsB, 0.002);
    }

    [SkippableFact]
    public void MuLaw_call_matches_sox_decode()
    {
        TestData.RequireTool("sox");
        string mulaw = TestData.RequireShared("fixtures", "calls", "call01_mulaw8k.wav");
        byte[] raw = TestData.Run("sox", mulaw, "-t", "f32", "-");
        using var reader = WavReader.Open(mulaw);
        float[] ours = TestData.ReadAll(reader, 1234);
        Assert.Equal(raw.Length / 4, ours.Length);
        double maxError = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            float reference = BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(4 * i));
            maxError = Math.Max(maxError, Math.Abs(reference - ours[i]));
        }

        output.WriteLine($"max |ours − sox| over {ours.Length} samples: {maxError:E2}");
        Assert.True(maxError <= 1.0 / 32768, $"max error {maxError}");
    }

    [SkippableFact]
    public void Fixture_clip_matches_sox_and_streams_identically_in_odd_chunks()
    {
        TestData.RequireTool("sox");
        string clip = TestData.FixtureClip();
        byte[] raw = TestData.Run("sox", clip, "-t", "f32", "-");
        float[] whole = TestData.ReadWav(clip);
        Assert.Equal(raw.Length / 4, whole.Length);
        for (int i = 0; i < whole.Length; i++)
        {
            Assert.Equal(BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(4 * i)), whole[i]);
        }

        using var reader = WavReader.Open(clip);
        Assert.Equal(whole, TestData.ReadAll(reader, 3));
    }

    [SkippableFact]
    public void Split_channels_of_the_call_resample_to_16k()
    {
        string mulaw = TestData.RequireShared("fixtures", "calls", "call01_mulaw8k.wav");
        using var reader = AudioFile.Open(mulaw);
        var left = new Resampler(8000, 16000);
        var right = new Resampler(8000, 16000);
        var frames = new float[2 * 1000];
        var channel = new float[1000];
        var resampled = new float[left.MaxOutputFor(1000)];
        long outLeft = 0,
            outRight = 0;
        int n;
        while ((n = reader.Read(frames)) > 0)
        {
            ChannelMixer.Deinterleave(frames.AsSpan(0, 2 * n), 2, 0, channel);
            outLeft += left.Process(channel.AsSpan(0, n), resampled);
            ChannelMixer.Deinterleave(frames.AsSpan(0, 2 * n), 2, 1, channel);
            outRight += right.Process(channel.AsSpan(0, n), resampled);
        }

        outLeft += left.Flush(new float[left.MaxFlushOutput]);
        outRight += right.Flush(new float[right.MaxFlushOutput]);
        Assert.Equal(2 * reader.TotalFrames, outLeft);
        Assert.Equal(outLeft, outRight);
    }

    private static long CountFrames(IAudioReader reader, int chunk)
    {
        var buffer = new float[chunk * reader.Format.Channels];
        long frames = 0;
        int n;
        while ((n = reader.Read(buffer)) > 0)
        {
            frames += n;
        }

        return frames;
    }
}
