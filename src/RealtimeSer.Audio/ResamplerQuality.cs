namespace RealtimeSer.Audio;

/// <summary>Trade-off between filter length (CPU per sample) and fidelity.</summary>
public enum ResamplerQuality
{
    /// <summary>About 100 taps at 44.1 kHz: ~60 dB stopband, passband to ~80 % of the lower Nyquist.</summary>
    Fast,

    /// <summary>About 560 taps at 44.1 kHz: ~100 dB stopband, flat to ~93 % of the lower Nyquist (close to sox -v).</summary>
    High,
}
