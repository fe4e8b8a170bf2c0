using RealtimeSer.Core.Models;

namespace RealtimeSer.Core.Inference;

/// <summary>
/// Running per-channel statistics of a model's window features, started from the training speakers' prior:
/// each window is z-normalised with the mean and variance of every window of the channel so far, itself
/// included. Emotion shows as a departure from the speaker's own baseline, which is what an unseen corpus,
/// microphone or language shifts; this is the measurement behind general6's model card.
/// </summary>
public sealed class SpeakerNormalizer
{
    private readonly SpeakerAdaptation _adaptation;
    private readonly double[] _sum;
    private readonly double[] _sumSquares;
    private long _windows;

    public SpeakerNormalizer(SpeakerAdaptation adaptation)
    {
        _adaptation = adaptation;
        var d = adaptation.FeatureCount;
        _sum = new double[d];
        _sumSquares = new double[d];
        var k = adaptation.PriorWindows;
        for (var i = 0; i < d; i++)
        {
            double mean = adaptation.PriorMean[i];
            _sum[i] = k * mean;
            _sumSquares[i] = k * (adaptation.PriorVariance[i] + mean * mean);
        }
    }

    public long Windows => _windows;

    /// <summary>Adds <paramref name="features"/> to the statistics and writes them normalised.</summary>
    public void AddAndNormalize(ReadOnlySpan<float> features, Span<float> normalized)
    {
        if (features.Length != _sum.Length || normalized.Length < _sum.Length)
        {
            throw new ArgumentException($"{_sum.Length} features expected, got {features.Length}.");
        }
        _windows++;
        var n = _adaptation.PriorWindows + _windows;
        for (var i = 0; i < _sum.Length; i++)
        {
            double x = features[i];
            _sum[i] += x;
            _sumSquares[i] += x * x;
            var mean = _sum[i] / n;
            var variance = Math.Max(_sumSquares[i] / n - mean * mean, 1e-8);
            normalized[i] = (float)((x - mean) / Math.Sqrt(variance));
        }
    }
}
