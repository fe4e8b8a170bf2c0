using RealtimeSer.Audio;

namespace RealtimeSer.Core.Ingest;

/// <summary>
/// Turns interleaved source audio at any rate into 16 kHz mono float streams, one per analysed channel
/// (split) or one in all (mix). Buffers are reused between calls, so the per-block path does not allocate
/// once the block size is steady.
/// </summary>
public sealed class StreamNormalizer
{
    public const int TargetRate = 16000;

    private readonly int _sourceChannels;
    private readonly Resampler[] _resamplers;
    private float[] _scratch = [];
    private readonly float[][] _outputs;
    private readonly int[] _outputCounts;

    public StreamNormalizer(int sourceRate, int sourceChannels, ChannelMode mode)
    {
        if (sourceChannels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(sourceChannels), "At least one channel is needed.");
        }
        _sourceChannels = sourceChannels;
        Mode = sourceChannels == 1 ? ChannelMode.Mix : mode;
        OutputChannels = Mode == ChannelMode.Split ? sourceChannels : 1;
        _resamplers = new Resampler[OutputChannels];
        for (var c = 0; c < OutputChannels; c++)
        {
            _resamplers[c] = new Resampler(sourceRate, TargetRate);
        }
        _outputs = new float[OutputChannels][];
        for (var c = 0; c < OutputChannels; c++)
        {
            _outputs[c] = [];
        }
        _outputCounts = new int[OutputChannels];
    }

    public ChannelMode Mode { get; }

    /// <summary>Number of analysis streams produced (source channels when split, else 1).</summary>
    public int OutputChannels { get; }

    /// <summary>Normalizes one block of interleaved samples; read each channel's result with <see cref="Output"/>.</summary>
    public void Process(ReadOnlySpan<float> interleaved)
    {
        var frames = interleaved.Length / _sourceChannels;
        EnsureCapacity(ref _scratch, frames);
        var mono = _scratch.AsSpan(0, frames);
        for (var c = 0; c < OutputChannels; c++)
        {
            if (Mode == ChannelMode.Split)
            {
                ChannelMixer.Deinterleave(
                    interleaved[..(frames * _sourceChannels)],
                    _sourceChannels,
                    c,
                    mono
                );
            }
            else if (_sourceChannels == 1)
            {
                interleaved[..frames].CopyTo(mono);
            }
            else
            {
                ChannelMixer.Downmix(interleaved[..(frames * _sourceChannels)], _sourceChannels, mono);
            }
            var resampler = _resamplers[c];
            EnsureCapacity(ref _outputs[c], resampler.MaxOutputFor(frames));
            _outputCounts[c] = resampler.Process(mono, _outputs[c]);
        }
    }

    /// <summary>Drains the resamplers at end of stream; read the tails with <see cref="Output"/>.</summary>
    public void Flush()
    {
        for (var c = 0; c < OutputChannels; c++)
        {
            var resampler = _resamplers[c];
            EnsureCapacity(ref _outputs[c], resampler.MaxOutputFor(0) + 4096);
            _outputCounts[c] = resampler.Flush(_outputs[c]);
        }
    }

    /// <summary>16 kHz samples of channel <paramref name="channel"/> from the last call; valid until the next call.</summary>
    public ReadOnlySpan<float> Output(int channel) => OutputMemory(channel).Span;

    /// <summary><see cref="Output"/> for consumers that await (valid until the next call too).</summary>
    public ReadOnlyMemory<float> OutputMemory(int channel) =>
        _outputs[channel].AsMemory(0, _outputCounts[channel]);

    private static void EnsureCapacity(ref float[] buffer, int needed)
    {
        if (buffer.Length < needed)
        {
            buffer = new float[Math.Max(needed, buffer.Length * 2)];
        }
    }
}
