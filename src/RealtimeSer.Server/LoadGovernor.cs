using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RealtimeSer.Server;

/// <summary>
/// Adaptive admission: watches the end-to-end latency of live streams' events (gRPC and browser) and the audio
/// they shed, over the last <see cref="ServerOptions.AdmissionWindowSeconds"/>. While the p95 is above
/// <see cref="ServerOptions.LatencyObjectiveMs"/>, or live streams shed more than a fifth of a second of audio
/// per second of the window (a sustained overload, not one stalled chunk), new streams are refused; once the
/// p95 is back under 80 % of the objective and shedding has stopped (or there are no live events at all),
/// they are admitted again. The static <see cref="ServerOptions.MaxConcurrentStreams"/> limit still applies on top: it guards
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
    private readonly (long At, double Ms)[] _samples = new (long, double)[Capacity];
    private int _next;
    private int _count;
    private readonly Queue<(long At, double Seconds)> _sheds = new();
    private bool _overloaded;
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
            "1 while new streams are refused for latency, else 0."
        );
        Meter.CreateObservableGauge(
            "ser.admission.live_latency_p95",
            () => LiveP95Ms / 1000,
            "s",
            "End-to-end p95 of live streams' events over the admission window (0 when none)."
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
            _samples[_next] = (_time.GetTimestamp(), endToEndMs);
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
    }

    /// <summary>A live stream shed <paramref name="seconds"/> more of audio (its backlog passed the bound).</summary>
    public void ObserveShed(double seconds)
    {
        lock (_gate)
        {
            _sheds.Enqueue((_time.GetTimestamp(), seconds));
        }
    }

    /// <summary>Null when a new stream may start; else the refusal's reason, with a retry hint.</summary>
    public string? RefusalReason()
    {
        if (!Enabled)
        {
            return null;
        }
        lock (_gate)
        {
            Decide();
            if (!_overloaded)
            {
                return null;
            }
            _refused.Add(1);
            var why =
                ShedInWindow() > ShedLimit
                    ? $"live streams shed {ShedInWindow():0.#} s of audio in the last {_options.AdmissionWindowSeconds:0.#} s"
                    : $"live p95 latency {_lastP95:0} ms over the last {_options.AdmissionWindowSeconds:0.#} s is above its {_options.LatencyObjectiveMs:0} ms objective";
            return $"The server is overloaded ({why}); retry in {_options.AdmissionWindowSeconds:0.#} s or use another instance.";
        }
    }

    // Under the lock.
    private void Decide()
    {
        var now = _time.GetTimestamp();
        var horizon = now - (long)(_options.AdmissionWindowSeconds * _time.TimestampFrequency);
        var recent = new List<double>(Math.Min(_count, 1024));
        for (var i = 0; i < _count; i++)
        {
            var (at, ms) = _samples[(_next - 1 - i + Capacity) % Capacity];
            if (at < horizon)
            {
                break;
            }
            recent.Add(ms);
        }
        recent.Sort();
        _lastP95 = recent.Count == 0 ? 0 : recent[(int)Math.Ceiling(0.95 * recent.Count) - 1];
        var shed = ShedInWindow() > ShedLimit;
        var was = _overloaded;
        _overloaded = was
            ? shed || _lastP95 > RecoverFraction * _options.LatencyObjectiveMs
            : shed || _lastP95 > _options.LatencyObjectiveMs;
        if (_overloaded != was)
        {
            if (_overloaded)
            {
                ServerLog.AdmissionOverloaded(Logger, _lastP95, _options.LatencyObjectiveMs, shed);
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
