namespace RealtimeSer.Audio.Tests;

public class ChannelMixerTests
{
    [Fact]
    public void Deinterleave_picks_each_channel()
    {
        float[] x = [1, 10, 100, 2, 20, 200, 3, 30, 300];
        var d = new float[3];
        ChannelMixer.Deinterleave(x, 3, 0, d);
        Assert.Equal([1f, 2, 3], d);
        ChannelMixer.Deinterleave(x, 3, 2, d);
        Assert.Equal([100f, 200, 300], d);
    }

    [Fact]
    public void Downmix_is_the_mean_of_channels()
    {
        var d = new float[2];
        ChannelMixer.Downmix([1f, -1f, 0.5f, 0.25f], 2, d);
        Assert.Equal([0f, 0.375f], d);
        ChannelMixer.Downmix([1f, 1f, 1f, 0.3f, 0.6f, 0.9f], 3, d);
        Assert.Equal(1f, d[0], 6);
        Assert.Equal(0.6f, d[1], 6);
        ChannelMixer.Downmix([0.7f, 0.1f], 1, d);
        Assert.Equal([0.7f, 0.1f], d);
    }

    [Fact]
    public void Partial_frames_are_ignored_and_bad_arguments_throw()
    {
        var d = new float[1];
        ChannelMixer.Deinterleave([1f, 2f, 3f], 2, 1, d); // The trailing half frame is not a frame.
        Assert.Equal(2f, d[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelMixer.Deinterleave([1f, 2f], 2, 2, d));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelMixer.Downmix([1f], 0, d));
        Assert.Throws<ArgumentException>(() => ChannelMixer.Downmix([1f, 2f, 3f, 4f], 1, d));
    }
}
