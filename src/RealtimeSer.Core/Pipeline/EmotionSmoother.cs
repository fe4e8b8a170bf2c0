namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Smooths one channel's window scores within a speech segment: an exponential moving average with a time
/// constant, and hysteresis so that the reported label only changes when another one clearly leads.
/// The segment's final scores pool its windows' raw scores, weighted by window length.
/// </summary>
public sealed class EmotionSmoother
{
    private readonly int _labels;
    private readonly double _timeConstant;
    private readonly float _margin;
    private readonly float[] _smoothed;
    private readonly double[] _pooled;
    private double _pooledWeight;
    private bool _started;

    public EmotionSmoother(int labels, double timeConstantSeconds, float hysteresisMargin)
    {
        _labels = labels;
        _timeConstant = timeConstantSeconds;
        _margin = hysteresisMargin;
        _smoothed = new float[labels];
        _pooled = new double[labels];
    }

    /// <summary>Index of the label currently reported (−1 before the first window of a segment).</summary>
    public int Current { get; private set; } = -1;

    public int Windows { get; private set; }

    public ReadOnlySpan<float> Smoothed => _smoothed;

    /// <summary>Adds one window's probabilities, <paramref name="advanceSeconds"/> after the previous window.</summary>
    public void Add(ReadOnlySpan<float> probabilities, double advanceSeconds, double windowSeconds)
    {
        if (!_started)
        {
            probabilities.CopyTo(_smoothed);
            _started = true;
        }
        else
        {
            var alpha =
                _timeConstant <= 0 ? 1f : (float)(1 - Math.Exp(-Math.Max(0, advanceSeconds) / _timeConstant));
            for (var i = 0; i < _labels; i++)
            {
                _smoothed[i] += alpha * (probabilities[i] - _smoothed[i]);
            }
        }
        for (var i = 0; i < _labels; i++)
        {
            _pooled[i] += probabilities[i] * windowSeconds;
        }
        _pooledWeight += windowSeconds;
        Windows++;

        var top = ArgMax(_smoothed);
        if (Current < 0 || (top != Current && _smoothed[top] - _smoothed[Current] > _margin))
        {
            Current = top;
        }
    }

    /// <summary>Pooled scores of the segment so far (sum to 1); false when no window arrived.</summary>
    public bool TryGetPooled(Span<float> destination, out int label)
    {
        label = -1;
        if (_pooledWeight <= 0)
        {
            return false;
        }
        for (var i = 0; i < _labels; i++)
        {
            destination[i] = (float)(_pooled[i] / _pooledWeight);
        }
        label = ArgMax(destination);
        return true;
    }

    /// <summary>Starts a new segment.</summary>
    public void Reset()
    {
        Array.Clear(_smoothed);
        Array.Clear(_pooled);
        _pooledWeight = 0;
        _started = false;
        Current = -1;
        Windows = 0;
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        var best = 0;
        for (var i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best])
            {
                best = i;
            }
        }
        return best;
    }
}
