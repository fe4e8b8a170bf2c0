namespace RealtimeSer.Core.Inference;

internal static class AudioMath
{
    /// <summary>Wav2Vec2FeatureExtractor's normalization: (x − mean) / sqrt(var + 1e-7).</summary>
    public static void NormalizeZeroMeanUnitVariance(Span<float> x)
    {
        if (x.IsEmpty)
        {
            return;
        }
        double sum = 0;
        foreach (var v in x)
        {
            sum += v;
        }
        var mean = sum / x.Length;
        double squares = 0;
        foreach (var v in x)
        {
            var d = v - mean;
            squares += d * d;
        }
        var scale = (float)(1.0 / Math.Sqrt(squares / x.Length + 1e-7));
        var m = (float)mean;
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (x[i] - m) * scale;
        }
    }

    public static void SoftmaxInPlace(Span<float> x)
    {
        var max = float.NegativeInfinity;
        foreach (var v in x)
        {
            max = Math.Max(max, v);
        }
        double sum = 0;
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = MathF.Exp(x[i] - max);
            sum += x[i];
        }
        var inv = (float)(1.0 / sum);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] *= inv;
        }
    }
}
