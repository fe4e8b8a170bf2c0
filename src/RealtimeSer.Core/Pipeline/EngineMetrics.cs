using System.Diagnostics.Metrics;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// The engine's instruments, on one <see cref="Meter"/> named <c>RealtimeSer.Engine</c>, so that
/// dotnet-counters, OpenTelemetry and a Prometheus endpoint all read the same numbers. Durations are in
/// seconds (Prometheus and OpenTelemetry conventions); the meter comes from <see cref="Factory"/>, which a
/// server exports so that only its own engine's series reach its /metrics.
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "RealtimeSer.Engine";

    /// <summary>Histogram buckets for durations, 1 ms to 10 s.</summary>
    public static readonly IReadOnlyList<double> SecondsBuckets =
    [
        0.001,
        0.002,
        0.005,
        0.01,
        0.02,
        0.05,
        0.1,
        0.2,
        0.5,
        1,
        2,
        5,
        10,
    ];

    private static readonly IReadOnlyList<int> s_countBuckets = [1, 2, 4, 8, 16, 32, 64, 128];

    private readonly bool _ownsFactory;
    private long _activeStreams;

    public EngineMetrics(IMeterFactory? factory = null)
    {
        _ownsFactory = factory is null;
        Factory = factory ?? new ScopedMeterFactory();
        Meter = Factory.Create(new MeterOptions(MeterName));
        QueueTime = Seconds("ser.window.queue_time", "Time a window waited for a batch.");
        InferenceTime = Seconds("ser.batch.inference_time", "Time of one model run.");
        EndToEnd = Seconds("ser.event.latency", "From the arrival of a window's last sample to its event.");
        ModelInferenceTime = Seconds(
            "ser.model.inference_time",
            "Time of one model's run on a batch, labelled with the model id (an engine may run several)."
        );
        BatchSize = Meter.CreateHistogram(
            "ser.batch.size",
            "{window}",
            "Windows per model run.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = s_countBuckets }
        );
        VadBatchSize = Meter.CreateHistogram(
            "ser.vad.batch.size",
            "{frame}",
            "32 ms frames per Silero VAD run, across streams and channels (batched VAD only).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = s_countBuckets }
        );
        Windows = Meter.CreateCounter<long>("ser.windows", "{window}", "Windows classified.");
        Dropped = Meter.CreateCounter<long>(
            "ser.windows.dropped",
            "{window}",
            "Windows dropped under overload."
        );
        SegmentsLost = Meter.CreateCounter<long>(
            "ser.segments.lost",
            "{segment}",
            "Speech segments that got no final under overload: every window dropped, or the end found too late to report."
        );
        AudioSeconds = Meter.CreateCounter<double>(
            "ser.audio",
            "s",
            "Audio received, summed over channels (a stereo second counts 2 s)."
        );
        AudioShed = Meter.CreateCounter<double>(
            "ser.audio.shed",
            "s",
            "Live audio skipped without VAD or windows because the stream's backlog exceeded its bound, summed over channels."
        );
        Meter.CreateObservableGauge(
            "ser.streams.active",
            () => Interlocked.Read(ref _activeStreams),
            "{stream}",
            "Open engine streams (a server exports its admitted streams instead, ser_streams_admitted)."
        );
    }

    /// <summary>Where <see cref="Meter"/> came from; a server exports the meters of this factory.</summary>
    public IMeterFactory Factory { get; }

    public Meter Meter { get; }

    public Histogram<int> VadBatchSize { get; }
    public Histogram<double> QueueTime { get; }
    public Histogram<double> InferenceTime { get; }
    public Histogram<double> EndToEnd { get; }
    public Histogram<double> ModelInferenceTime { get; }
    public Histogram<int> BatchSize { get; }
    public Counter<long> Windows { get; }
    public Counter<long> Dropped { get; }
    public Counter<long> SegmentsLost { get; }
    public Counter<double> AudioSeconds { get; }
    public Counter<double> AudioShed { get; }

    public long ActiveStreams => Interlocked.Read(ref _activeStreams);

    private Histogram<double> Seconds(string name, string description) =>
        Meter.CreateHistogram(
            name,
            "s",
            description,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets }
        );

    internal void RecordModelRun(string model, double seconds) =>
        ModelInferenceTime.Record(seconds, new KeyValuePair<string, object?>("model", model));

    /// <summary>A gauge of the distinct input shapes each of <paramref name="sessions"/> has run, by session name.</summary>
    internal void WatchShapes(IReadOnlyList<RealtimeSer.Onnx.OnnxSession> sessions) =>
        Meter.CreateObservableGauge(
            "ser.onnx.shapes",
            () =>
                sessions.Select(s => new Measurement<int>(
                    s.Shapes.Count,
                    new KeyValuePair<string, object?>("session", s.Name)
                )),
            "{shape}",
            "Distinct input shapes each ONNX session has run (VAD, each model, each adaptive head): every new shape costs a GPU session a convolution search."
        );

    internal void StreamOpened() => Interlocked.Increment(ref _activeStreams);

    internal void StreamClosed() => Interlocked.Decrement(ref _activeStreams);

    public void Dispose()
    {
        Meter.Dispose();
        if (_ownsFactory)
        {
            Factory.Dispose();
        }
    }
}
