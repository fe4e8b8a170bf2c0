namespace RealtimeSer.Audio;

/// <summary>Splits or mixes interleaved multi-channel frames into one channel.</summary>
public static class ChannelMixer
{
    /// <summary>
    /// Copies one channel of <paramref name="interleaved"/> into <paramref name="destination"/>, which needs room
    /// for <c>interleaved.Length / channels</c> samples.
    /// </summary>
    public static void Deinterleave(
        ReadOnlySpan<float> interleaved,
        int channels,
        int channel,
        Span<float> destination
    )
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channel, channels);
        if (CopiedMono(interleaved, channels, destination, out int frames))
        {
            return;
        }

        for (int i = 0, s = channel; i < frames; i++, s += channels)
        {
            destination[i] = interleaved[s];
        }
    }

    /// <summary>
    /// Writes the mean of all channels of each frame into <paramref name="destination"/>; the mean (not the sum)
    /// keeps a full-scale signal within [-1, 1].
    /// </summary>
    public static void Downmix(ReadOnlySpan<float> interleaved, int channels, Span<float> destination)
    {
        if (CopiedMono(interleaved, channels, destination, out int frames))
        {
            return;
        }

        if (channels == 2)
        {
            for (int i = 0, s = 0; i < frames; i++, s += 2)
            {
                destination[i] = 0.5f * (interleaved[s] + interleaved[s + 1]);
            }

            return;
        }

        float scale = 1f / channels;
        for (int i = 0, s = 0; i < frames; i++, s += channels)
        {
            float sum = 0f;
            for (int c = 0; c < channels; c++)
            {
                sum += interleaved[s + c];
            }

            destination[i] = sum * scale;
        }
    }

    /// <summary>Checks the arguments; copies and returns true for mono, where there is nothing to mix.</summary>
    private static bool CopiedMono(
        ReadOnlySpan<float> interleaved,
        int channels,
        Span<float> destination,
        out int frames
    )
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        frames = interleaved.Length / channels;
        if (destination.Length < frames)
        {
            throw new ArgumentException(
                $"Destination holds {destination.Length} samples but {frames} frames are given.",
                nameof(destination)
            );
        }
        if (channels != 1)
        {
            return false;
        }
        interleaved[..frames].CopyTo(destination);
        return true;
    }
}
