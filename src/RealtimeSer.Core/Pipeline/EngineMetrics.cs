using System.Diagnostics.Metrics;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// The engine's instruments, on one <see cref="Meter"/> named <c>RealtimeSer.Engine</c>, so that
/// dotnet-counters, OpenTelemetry and a Prometheus endpoint all read the same numbers.
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "RealtimeSer.Engine";

    private long _activeStreams;

    public EngineMetrics(IMeterFactory? factory = null)
    {
        Meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        QueueTime = Meter.CreateHistogram<double>(
            "ser.window.queue_time",
            "ms",
            "Time a window waited for a batch."
        );
        InferenceTime = Meter.CreateHistogram<double>(
            "ser.batch.inference_time",
            "ms",
            "Time of one model run."
        );
        EndToEnd = Meter.CreateHistogram<double>(
            "ser.event.latency",
            "ms",
            "From the arrival of a window's last sample to its event."
        );
        ModelInferenceTime = Meter.CreateHistogram<double>(
            "ser.model.inference_time",
            "ms",
            "Time of one model's run on a batch, tagged with the model id (an engine may run several)."
        );
        BatchSize = Meter.CreateHistogram<int>("ser.batch.size", "{window}", "Windows per model run.");
        VadBatchSize = Meter.CreateHistogram<int>(
            "ser.vad.batch.size",
            "{frame}",
            "32 ms frames per Silero VAD run, across streams and channels (batched VAD only)."
        );
        Windows = Meter.CreateCounter<long>("ser.windows", "{window}", "Windows classified.");
        Dropped = Meter.CreateCounter<long>(
            "ser.windows.dropped",
            "{window}",
            "Windows dropped under overload."
        );
        AudioSeconds = Meter.CreateCounter<double>("ser.audio", "s", "Audio received, per channel.");
        AudioShed = Meter.CreateCounter<double>(
            "ser.audio.shed",
            "s",
            "Live audio skipped without VAD or windows because the stream's backlog exceeded its bound."
        );
        Meter.CreateObservableGauge(
            "ser.streams.active",
            () => Interlocked.Read(ref _activeStreams),
            "{stream}",
            "Open streams."
        );
    }

    public Meter Meter { get; }

    public Histogram<int> VadBatchSize { get; }
    public Histogram<double> QueueTime { get; }
    public Histogram<double> InferenceTime { get; }
    public Histogram<double> EndToEnd { get; }
    public Histogram<double> ModelInferenceTime { get; }
    public Histogram<int> BatchSize { get; }
    public Counter<long> Windows { get; }
    public Counter<long> Dropped { get; }
    public Counter<double> AudioSeconds { get; }
    public Counter<double> AudioShed { get; }

    public long ActiveStreams => Interlocked.Read(ref _activeStreams);

    internal void RecordModelRun(string model, double ms) =>
        ModelInferenceTime.Record(ms, new KeyValuePair<string, object?>("model", model));

    internal void StreamOpened() => Interlocked.Increment(ref _activeStreams);

    internal void StreamClosed() => Interlocked.Decrement(ref _activeStreams);

    public void Dispose() => Meter.Dispose();
}
