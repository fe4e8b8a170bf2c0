namespace RealtimeSer.Audio;

/// <summary>The format of an audio source as stored (decoded samples are always float32 in [-1, 1]).</summary>
/// <param name="SampleRate">Frames per second.</param>
/// <param name="Channels">Interleaved channels per frame.</param>
/// <param name="Encoding">How each sample is stored in the source.</param>
/// <param name="BitsPerSample">Container bits per sample in the source (e.g. 16, 24, 32, 64; 8 for G.711).</param>
public sealed record AudioFormat(int SampleRate, int Channels, SampleEncoding Encoding, int BitsPerSample)
{
    /// <summary>Bytes one frame (one sample of every channel) occupies in the source.</summary>
    public int BlockAlign => Channels * (BitsPerSample / 8);
}
