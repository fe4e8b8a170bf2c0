using RealtimeSer.Core.Ingest;

namespace RealtimeSer.Core.Tests.Ingest;

public class StreamNormalizerTests
{
    private static float[] Tone(int rate, int channels, double seconds, Func<int, double> frequencyOfChannel)
    {
        var frames = (int)(rate * seconds);
        var data = new float[frames * channels];
        for (var i = 0; i < frames; i++)
        {
            for (var c = 0; c < channels; c++)
            {
                data[i * channels + c] = (float)(
                    0.5 * Math.Sin(2 * Math.PI * frequencyOfChannel(c) * i / rate)
                );
            }
        }
        return data;
    }

    private static float[] RunAll(
        StreamNormalizer normalizer,
        float[] interleaved,
        int channels,
        int channel,
        int block
    )
    {
        var output = new List<float>();
        for (var offset = 0; offset < interleaved.Length; offset += block * channels)
        {
            var length = Math.Min(block * channels, interleaved.Length - offset);
            normalizer.Process(interleaved.AsSpan(offset, length));
            output.AddRange(normalizer.Output(channel).ToArray());
        }
        normalizer.Flush();
        output.AddRange(normalizer.Output(channel).ToArray());
        return [.. output];
    }

    private static double DominantFrequency(float[] x, int rate, params double[] candidates) =>
        candidates.MaxBy(f =>
        {
            double re = 0,
                im = 0;
            for (var i = 0; i < x.Length; i++)
            {
                re += x[i] * Math.Cos(2 * Math.PI * f * i / rate);
                im += x[i] * Math.Sin(2 * Math.PI * f * i / rate);
            }
            return re * re + im * im;
        });

    [Fact]
    public void Split_keeps_each_channel_apart_at_16_kHz()
    {
        var source = Tone(8000, 2, 1.0, c => c == 0 ? 440 : 1000);
        var left = RunAll(new StreamNormalizer(8000, 2, ChannelMode.Split), source, 2, 0, 333);
        var right = RunAll(new StreamNormalizer(8000, 2, ChannelMode.Split), source, 2, 1, 333);

        Assert.InRange(left.Length, 15900, 16100);
        Assert.Equal(440, DominantFrequency(left, 16000, 440, 1000));
        Assert.Equal(1000, DominantFrequency(right, 16000, 440, 1000));
    }

    [Fact]
    public void Mix_averages_channels_into_one_stream()
    {
        var normalizer = new StreamNormalizer(16000, 2, ChannelMode.Mix);
        Assert.Equal(1, normalizer.OutputChannels);
        float[] interleaved = [1f, 0f, 0.5f, 0.5f, -1f, 1f];
        normalizer.Process(interleaved);
        Assert.Equal([0.5f, 0.5f, 0f], normalizer.Output(0).ToArray());
    }

    [Fact]
    public void Mono_source_is_one_stream_even_when_split_is_asked()
    {
        var normalizer = new StreamNormalizer(48000, 1, ChannelMode.Split);
        Assert.Equal(1, normalizer.OutputChannels);
        var output = RunAll(normalizer, Tone(48000, 1, 0.5, _ => 300), 1, 0, 4800);
        Assert.InRange(output.Length, 7900, 8100);
    }
}
