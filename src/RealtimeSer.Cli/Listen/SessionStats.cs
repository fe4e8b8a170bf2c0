using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Cli.Listen;

/// <summary>What a listening session saw: final segments, latencies, the current state. Thread-safe.</summary>
internal sealed class SessionStats
{
    private readonly object _gate = new();
    private readonly List<double> _latencies = [];
    private readonly List<EmotionEvent> _finals = [];
    private EmotionEvent? _current;

    public IReadOnlyList<string> Labels { get; private set; } = [];

    public void Add(EmotionEvent e)
    {
        lock (_gate)
        {
            Labels = e.Labels;
            _latencies.Add(e.Latency.EndToEndMs);
            if (e.IsFinal)
            {
                _finals.Add(e);
            }
            else
            {
                _current = e;
            }
        }
    }

    /// <summary>The latest interim result, and whether its segment is still open.</summary>
    public EmotionEvent? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    public int Segments
    {
        get
        {
            lock (_gate)
            {
                return _finals.Count;
            }
        }
    }

    public IReadOnlyList<EmotionEvent> LastFinals(int count)
    {
        lock (_gate)
        {
            return _finals.Skip(Math.Max(0, _finals.Count - count)).ToList();
        }
    }

    /// <summary>Percentile of capture-to-event latency (ms) over every result so far; NaN before the first.</summary>
    public double LatencyPercentile(double p)
    {
        double[] sorted;
        lock (_gate)
        {
            sorted = [.. _latencies];
        }
        return Percentile(sorted, p);
    }

    public int LatencyCount
    {
        get
        {
            lock (_gate)
            {
                return _latencies.Count;
            }
        }
    }

    /// <summary>Share of final speech time per label, largest first.</summary>
    public IReadOnlyList<(string Label, double Share, int Segments)> LabelShares()
    {
        lock (_gate)
        {
            var total = _finals.Sum(f => f.EndSeconds - f.StartSeconds);
            return _finals
                .GroupBy(f => f.Label)
                .Select(g =>
                    (g.Key, total > 0 ? g.Sum(f => f.EndSeconds - f.StartSeconds) / total : 0, g.Count())
                )
                .OrderByDescending(x => x.Item2)
                .ToList();
        }
    }

    internal static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }
        Array.Sort(values);
        var rank = p / 100 * (values.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return values[lo] + (values[hi] - values[lo]) * (rank - lo);
    }
}
