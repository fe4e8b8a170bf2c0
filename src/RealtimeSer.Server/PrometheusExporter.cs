using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace RealtimeSer.Server;

/// <summary>
/// Prometheus text exposition (version 0.0.4) of the instruments on the given meters, read through a
/// <see cref="MeterListener"/>: counters as _total, gauges as their last observation, histograms as
/// cumulative buckets with _sum and _count. Tags are not used by the engine, so series are unlabelled.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] s_msBuckets =
    [
        1,
        2,
        5,
        10,
        20,
        50,
        100,
        200,
        500,
        1000,
        2000,
        5000,
        10000,
    ];
    private static readonly double[] s_countBuckets = [1, 2, 4, 8, 16, 32, 64, 128];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Series> _series = new();
    private readonly HashSet<Meter> _meters;

    public PrometheusExporter(IEnumerable<Meter> meters)
    {
        _meters = [.. meters];
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_meters.Contains(instrument.Meter))
            {
                _series[instrument] = new Series(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, _, _) => Record(i, v));
        _listener.SetMeasurementEventCallback<int>((i, v, _, _) => Record(i, v));
        _listener.SetMeasurementEventCallback<double>((i, v, _, _) => Record(i, v));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value)
    {
        if (_series.TryGetValue(instrument, out var series))
        {
            series.Add(value);
        }
    }

    /// <summary>The current values, in the text format.</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        // Same-named instruments of several engines (several models) are summed into one series.
        foreach (var group in _series.Values.GroupBy(s => s.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var all = group.ToArray();
            var first = all[0];
            text.Append("# HELP ").Append(first.Name).Append(' ').Append(first.Help).Append('\n');
            text.Append("# TYPE ").Append(first.Name).Append(' ').Append(first.Type).Append('\n');
            switch (first.Kind)
            {
                case SeriesKind.Counter:
                    Line(text, first.Name, "", all.Sum(s => s.Sum));
                    break;
                case SeriesKind.Gauge:
                    Line(text, first.Name, "", all.Sum(s => s.Last));
                    break;
                default:
                    var buckets = first.Bounds;
                    for (var b = 0; b < buckets.Length; b++)
                    {
                        var le = buckets[b].ToString(CultureInfo.InvariantCulture);
                        Line(text, first.Name + "_bucket", $"{{le=\"{le}\"}}", all.Sum(s => s.Cumulative(b)));
                    }
                    Line(text, first.Name + "_bucket", "{le=\"+Inf\"}", all.Sum(s => s.Count));
                    Line(text, first.Name + "_sum", "", all.Sum(s => s.Sum));
                    Line(text, first.Name + "_count", "", all.Sum(s => s.Count));
                    break;
            }
        }
        return text.ToString();
    }

    private static void Line(StringBuilder text, string name, string labels, double value) =>
        text.Append(name)
            .Append(labels)
            .Append(' ')
            .Append(value.ToString("R", CultureInfo.InvariantCulture))
            .Append('\n');

    /// <summary>ser.window.queue_time (ms) → ser_window_queue_time_ms; counters end in _total.</summary>
    internal static string PrometheusName(Instrument instrument, bool counter)
    {
        var name = new StringBuilder();
        foreach (var c in instrument.Name)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        }
        var unit = instrument.Unit switch
        {
            null or "" => "",
            "ms" => "_ms",
            "s" => "_seconds",
            _ when instrument.Unit.StartsWith('{') => "",
            _ => "_" + instrument.Unit,
        };
        return name + unit + (counter ? "_total" : "");
    }

    public void Dispose() => _listener.Dispose();

    private enum SeriesKind
    {
        Counter,
        Gauge,
        Histogram,
    }

    private sealed class Series
    {
        private readonly Lock _lock = new();
        private readonly long[] _counts = [];
        private double _sum;
        private long _count;
        private double _last;

        public Series(Instrument instrument)
        {
            var type = instrument.GetType().GetGenericTypeDefinition();
            Kind =
                type == typeof(Counter<>) || type == typeof(ObservableCounter<>) ? SeriesKind.Counter
                : type == typeof(Histogram<>) ? SeriesKind.Histogram
                : SeriesKind.Gauge;
            Name = PrometheusName(instrument, Kind == SeriesKind.Counter);
            Help = (instrument.Description ?? instrument.Name).Replace('\n', ' ');
            Bounds =
                Kind != SeriesKind.Histogram ? []
                : instrument.Unit == "ms" ? s_msBuckets
                : s_countBuckets;
            _counts = new long[Bounds.Length];
        }

        public SeriesKind Kind { get; }
        public string Name { get; }
        public string Help { get; }
        public double[] Bounds { get; }
        public string Type =>
            Kind switch
            {
                SeriesKind.Counter => "counter",
                SeriesKind.Gauge => "gauge",
                _ => "histogram",
            };

        public double Sum
        {
            get
            {
                lock (_lock)
                {
                    return _sum;
                }
            }
        }

        public double Last
        {
            get
            {
                lock (_lock)
                {
                    return _last;
                }
            }
        }

        public long Count
        {
            get
            {
                lock (_lock)
                {
                    return _count;
                }
            }
        }

        public long Cumulative(int bucket)
        {
            lock (_lock)
            {
                long total = 0;
                for (var b = 0; b <= bucket; b++)
                {
                    total += _counts[b];
                }
                return total;
            }
        }

        public void Add(double value)
        {
            lock (_lock)
            {
                _last = value;
                _sum += value;
                _count++;
                if (Kind == SeriesKind.Histogram)
                {
                    var b = Array.BinarySearch(Bounds, value);
                    b = b >= 0 ? b : ~b;
                    if (b < _counts.Length)
                    {
                        _counts[b]++;
                    }
                }
            }
        }
    }
}
