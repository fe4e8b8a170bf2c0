namespace RealtimeSer.Audio;

/// <summary>How samples are stored in the source; decoded samples are always float32.</summary>
public enum SampleEncoding
{
    /// <summary>Linear PCM integers (8-bit unsigned, 16/24/32-bit signed).</summary>
    Pcm,

    /// <summary>IEEE float, 32 or 64 bit.</summary>
    Float,

    /// <summary>G.711 μ-law, 8 bit.</summary>
    MuLaw,

    /// <summary>G.711 A-law, 8 bit.</summary>
    ALaw,
}
