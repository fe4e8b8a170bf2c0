using RealtimeSer.Core.Vad;

namespace RealtimeSer.Core.Pipeline;

/// <summary>What to do when the shared window queue is full.</summary>
public enum OverloadPolicy
{
    /// <summary>Live sources never block: the oldest queued window is dropped and counted.</summary>
    DropOldest,

    /// <summary>Replay waits for room: nothing is ever dropped.</summary>
    Wait,
}

/// <summary>
/// How one engine runs, for all of its streams: batching, the window queue and its overload policy, the live
/// bound on late work, VAD batching. What each stream may set for itself is in <see cref="StreamOptions"/>;
/// <see cref="Streams"/> holds the defaults a stream gets when it sets nothing.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>The live backlog bound's default: the 0.5 s latency objective less room for inference and delivery.</summary>
    public const double DefaultMaxBacklogSeconds = 0.4;

    /// <summary>Largest batch for one ONNX run.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>How long the scheduler waits to fill a batch once it has one window.</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// <see cref="MaxBatchDelay"/> for a replay engine. A replay's windows come in bursts, a block of each channel
    /// at a time, and nobody waits on one window's latency, so waiting longer fills the model's batches at no cost
    /// to throughput (figures: docs/benchmarks.md, issue #29).
    /// </summary>
    public static readonly TimeSpan ReplayMaxBatchDelay = TimeSpan.FromMilliseconds(25);

    /// <summary>ONNX runs in flight at once.</summary>
    public int ConcurrentRuns { get; init; } = 1;

    /// <summary>Capacity of the shared window queue (all streams).</summary>
    public int QueueCapacity { get; init; } = 256;

    /// <summary>
    /// A live engine (drop-oldest) or a replay engine (wait). A live engine's recordings (<see
    /// cref="StreamOptions.Recorded"/>) wait in a queue of their own.
    /// </summary>
    public OverloadPolicy Overload { get; init; } = OverloadPolicy.DropOldest;

    /// <summary>
    /// Live streams only: when more audio than this waits for the VAD and the source is not ahead of real time,
    /// the oldest waiting audio is skipped and counted, and results of audio older than this are not given, so
    /// that latency stays bounded when the CPU saturates. 0 turns it off (the writer then runs the VAD itself,
    /// as replay does).
    /// </summary>
    public double MaxBacklogSeconds { get; init; } = DefaultMaxBacklogSeconds;

    /// <summary>Live streams: a source ahead of real time waits once this much audio is queued for the VAD.</summary>
    public double MaxQueuedSeconds { get; init; } = 5;

    /// <summary>
    /// Score the VAD frames of all streams and channels in shared Silero runs of up to this many frames (the
    /// per-frame cost falls with the batch). 0 runs each channel's frames on its own thread, one model run per
    /// frame, which degrades more gracefully for live streams past capacity (every stream's frames then wait in
    /// its own task, not in one shared line). Replay, which never sheds, turns it on.
    /// </summary>
    public int VadMaxBatch { get; init; }

    /// <summary>What a stream gets when it sets nothing itself.</summary>
    public StreamOptions Streams { get; init; } = new();

    public void Validate()
    {
        Streams.Validate();
        if (VadMaxBatch < 0)
        {
            throw new ArgumentException("the VAD batch must be ≥ 0 frames (0: no batching).");
        }
        if (MaxBatch < 1 || ConcurrentRuns < 1 || QueueCapacity < 1)
        {
            throw new ArgumentException("max batch, concurrent runs and queue capacity must be at least 1.");
        }
        if (!(MaxBacklogSeconds >= 0) || !(MaxQueuedSeconds >= MaxBacklogSeconds))
        {
            throw new ArgumentException(
                "the live backlog bound must be ≥ 0 s and at most the queued-audio bound."
            );
        }
    }
}

/// <summary>What one stream may set for itself: its windows, smoothing, interim results, VAD, and whether it is a recording.</summary>
public sealed record StreamOptions
{
    /// <summary>Window length; null takes the model's recommendation.</summary>
    public double? WindowSeconds { get; init; }

    /// <summary>Hop between windows; null takes the model's recommendation.</summary>
    public double? HopSeconds { get; init; }

    /// <summary>Time constant of the exponential moving average over window scores.</summary>
    public double SmoothingSeconds { get; init; } = 1.0;

    /// <summary>A new label must lead the current one by this much (smoothed) to replace it.</summary>
    public float HysteresisMargin { get; init; } = 0.1f;

    /// <summary>Emit an interim event after every window (finals are always emitted).</summary>
    public bool InterimResults { get; init; } = true;

    public VadOptions Vad { get; init; } = VadOptions.Default;

    /// <summary>
    /// A recording (a file streamed fast, a whole recording posted at once): its windows wait for room instead
    /// of being dropped and its audio is never shed, in a live engine too. Null follows the engine's policy.
    /// </summary>
    public bool? Recorded { get; init; }

    private static string Shown(double? seconds) => seconds is { } s ? $"{s} s" : "the model's";

    public void Validate()
    {
        Vad.Validate();
        // Written so that NaN fails every check: a NaN compares false both ways.
        if (
            WindowSeconds is { } window && !(window > 0 && double.IsFinite(window))
            || HopSeconds is { } hop && !(hop > 0 && double.IsFinite(hop))
        )
        {
            throw new ArgumentException(
                $"window and hop must be positive and finite; got window {Shown(WindowSeconds)}, hop {Shown(HopSeconds)}."
            );
        }
        if (
            !(SmoothingSeconds >= 0 && double.IsFinite(SmoothingSeconds))
            || !(HysteresisMargin is >= 0 and < 1)
        )
        {
            throw new ArgumentException(
                $"smoothing must be ≥ 0 s and the hysteresis margin in [0, 1); got {SmoothingSeconds} and {HysteresisMargin}."
            );
        }
    }
}
