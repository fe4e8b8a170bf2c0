using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RealtimeSer.Server;

/// <summary>
/// Adaptive admission: watches the end-to-end latency of live streams' events (gRPC and browser) and the audio
/// they shed, over the last <see cref="ServerOptions.AdmissionWindowSeconds"/>. While the p95 is above
/// <see cref="ServerOptions.LatencyObjectiveMs"/>, or live streams shed more than a fifth of a second of audio
/// per second of the window (a sustained overload, not one stalled chunk), the server is overloaded; once the
/// p95 is back under 80 % of the objective and shedding has stopped (or there are no live events at all),
/// it is not. While overloaded, new streams are admitted only up to a limit: 90 % of the most streams that were
/// active while the window's latencies and sheds were measured, lowered by a further 10 % for every window
/// that stays overloaded with the server at its limit (multiplicative decrease). So the streams that caused an
/// overload are not replaced one for one, and callers arriving after the load has gone (a new wave of calls)
/// are not all refused for the rest of the window. The static <see cref="ServerOptions.MaxConcurrentStreams"/> limit still applies on top: it guards
/// memory and file handles, this guards the latency objective on whatever machine the server runs.
/// </summary>
public sealed class LoadGovernor : IDisposable
{
    public const string MeterName = "RealtimeSer.Server";
    private const int Capacity = 8192;
    private const double RecoverFraction = 0.8;
    private const double ShedPerWindowSecond = 0.2;

    private readonly object _gate = new();
    private readonly ServerOptions _options;
    private readonly TimeProvider _time;
    private const double LimitFactor = 0.9;
    private readonly (long At, double Ms, int Active)[] _samples = new (long, double, int)[Capacity];
    private int _next;
    private int _count;
    private readonly Queue<(long At, double Seconds, int Active)> _sheds = new();
    private bool _overloaded;
    private int _limit = int.MaxValue;
    private long _limitSetAt;
    private double _lastP95;
    private readonly Counter<long> _refused;
    private MeterListener? _listener;

    /// <param name="meters">Where the governor's meter comes from (the server's exported scope); a meter of its own when null.</param>
    public LoadGovernor(ServerOptions options, TimeProvider? time = null, IMeterFactory? meters = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = time ?? TimeProvider.System;
        Meter = meters?.Create(new MeterOptions(MeterName)) ?? new Meter(MeterName);
        _refused = Meter.CreateCounter<long>(
            "ser.admission.refused",
            "{stream}",
            "New streams refused because live latency was over its objective or audio was being shed."
        );
        Meter.CreateObservableGauge(
            "ser.admission.overloaded",
            () => Overloaded ? 1 : 0,
            "{state}",
            "1 while the server is overloaded (new streams admitted only up to ser.admission.stream_limit), else 0."
        );
        Meter.CreateObservableGauge(
            "ser.admission.live_latency_p95",
            () => LiveP95Ms / 1000,
            "s",
            "End-to-end p95 of live streams' events over the admission window (0 when none)."
        );
        Meter.CreateObservableGauge(
            "ser.admission.stream_limit",
            () => StreamLimit,
            "{stream}",
            "While overloaded: the most streams admitted (new ones are refused at or above it); -1 when not overloaded."
        );
    }

    public Meter Meter { get; }

    /// <summary>
    /// Takes every live shedding from the engines' own <c>ser.audio.shed</c> counter (on these meters only),
    /// so shedding counts even when it leaves a stream with no event to report it.
    /// </summary>
    public void Watch(IEnumerable<Meter> engineMeters)
    {
        var meters = engineMeters.ToHashSet();
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (meters.Contains(instrument.Meter) && instrument.Name == "ser.audio.shed")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) => ObserveShed(seconds));
        _listener.Start();
    }

    /// <summary>Streams admitted now (set by the admission that owns the count); read with each measurement.</summary>
    public Func<int> ActiveStreams { get; set; } = () => 0;

    /// <summary>While overloaded, the most streams admitted; -1 when not overloaded.</summary>
    public int StreamLimit
    {
        get
        {
            lock (_gate)
            {
                Decide();
                return _overloaded ? _limit : -1;
            }
        }
    }

    /// <summary>Where state changes are logged (set once the host's logging exists).</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    public bool Enabled => _options.AdaptiveAdmission;

    /// <summary>The p95 of the window as of the last decision (0 when the window held no events).</summary>
    public double LiveP95Ms
    {
        get
        {
            lock (_gate)
            {
                Decide();
                return _lastP95;
            }
        }
    }

    public bool Overloaded
    {
        get
        {
            lock (_gate)
            {
                Decide();
                return _overloaded;
            }
        }
    }

    /// <summary>One live event's end-to-end latency.</summary>
    public void ObserveLatency(double endToEndMs)
    {
        lock (_gate)
        {
            _samples[_next] = (_time.GetTimestamp(), endToEndMs, ActiveStreams());
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
    }

    /// <summary>A live stream shed <paramref name="seconds"/> more of audio (its backlog passed the bound).</summary>
    public void ObserveShed(double seconds)
    {
        lock (_gate)
        {
            _sheds.Enqueue((_time.GetTimestamp(), seconds, ActiveStreams()));
        }
    }

    /// <summary>
    /// Null when a new stream may start, <paramref name="active"/> streams being admitted already; else the
    /// refusal's reason, with a retry hint.
    /// </summary>
    public string? RefusalReason(int active)
    {
        if (!Enabled)
        {
            return null;
        }
        lock (_gate)
        {
            Decide();
            if (!_overloaded || active < _limit)
            {
                return null;
            }
            _refused.Add(1);
            var why =
                ShedInWindow() > ShedLimit
                    ? $"live streams shed {ShedInWindow():0.#} s of audio in the last {_options.AdmissionWindowSeconds:0.#} s"
                    : $"live p95 latency {_lastP95:0} ms over the last {_options.AdmissionWindowSeconds:0.#} s is above its {_options.LatencyObjectiveMs:0} ms objective";
            return $"The server is overloaded ({why}) and admits no more than {_limit} streams until it recovers; retry in {_options.AdmissionWindowSeconds:0.#} s or use another instance.";
        }
    }

    // Under the lock.
    private void Decide()
    {
        var now = _time.GetTimestamp();
        var horizon = now - (long)(_options.AdmissionWindowSeconds * _time.TimestampFrequency);
        var recent = new List<double>(Math.Min(_count, 1024));
        var peak = ActiveStreams();
        for (var i = 0; i < _count; i++)
        {
            var (at, ms, active) = _samples[(_next - 1 - i + Capacity) % Capacity];
            if (at < horizon)
            {
                break;
            }
            recent.Add(ms);
            peak = Math.Max(peak, active);
        }
        recent.Sort();
        _lastP95 = recent.Count == 0 ? 0 : recent[(int)Math.Ceiling(0.95 * recent.Count) - 1];
        var shed = ShedInWindow() > ShedLimit;
        foreach (var s in _sheds)
        {
            peak = Math.Max(peak, s.Active);
        }
        var was = _overloaded;
        _overloaded = was
            ? shed || _lastP95 > RecoverFraction * _options.LatencyObjectiveMs
            : shed || _lastP95 > _options.LatencyObjectiveMs;
        if (!_overloaded)
        {
            _limit = int.MaxValue;
        }
        else if (!was)
        {
            _limit = (int)(LimitFactor * peak);
            _limitSetAt = now;
        }
        else if (now - _limitSetAt >= (long)(_options.AdmissionWindowSeconds * _time.TimestampFrequency))
        {
            // A whole window later and still overloaded: lower the limit again if the server is at it.
            if (ActiveStreams() >= _limit)
            {
                _limit = (int)(LimitFactor * _limit);
            }
            _limitSetAt = now;
        }
        if (_overloaded != was)
        {
            if (_overloaded)
            {
                ServerLog.AdmissionOverloaded(Logger, _lastP95, _options.LatencyObjectiveMs, shed, _limit);
            }
            else
            {
                ServerLog.AdmissionRecovered(Logger, _lastP95);
            }
        }
    }

    private double ShedLimit => ShedPerWindowSecond * _options.AdmissionWindowSeconds;

    // Under the lock.
    private double ShedInWindow()
    {
        while (
            _sheds.TryPeek(out var oldest)
            && _time.GetElapsedTime(oldest.At).TotalSeconds >= _options.AdmissionWindowSeconds
        )
        {
            _sheds.Dequeue();
        }
        return _sheds.Sum(s => s.Seconds);
    }

    public void Dispose()
    {
        _listener?.Dispose();
        Meter.Dispose();
    }
}
