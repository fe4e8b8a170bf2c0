using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Core.Pipeline;

/// <summary>What to do when the shared window queue is full.</summary>
public enum OverloadPolicy
{
    /// <summary>Live sources never block: the oldest queued window is dropped and counted.</summary>
    DropOldest,

    /// <summary>Replay waits for room: nothing is ever dropped.</summary>
    Wait,
}

public sealed record EngineOptions
{
    /// <summary>Window length; null takes the model's recommendation.</summary>
    public double? WindowSeconds { get; init; }

    /// <summary>Hop between windows; null takes the model's recommendation.</summary>
    public double? HopSeconds { get; init; }

    /// <summary>Largest batch for one ONNX run.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>How long the scheduler waits to fill a batch once it has one window.</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>ONNX runs in flight at once.</summary>
    public int ConcurrentRuns { get; init; } = 1;

    /// <summary>Capacity of the shared window queue (all streams).</summary>
    public int QueueCapacity { get; init; } = 256;

    public OverloadPolicy Overload { get; init; } = OverloadPolicy.DropOldest;

    /// <summary>
    /// Live streams (<see cref="OverloadPolicy.DropOldest"/>) only: when more audio than this waits for the
    /// VAD and the source is not ahead of real time, the oldest waiting audio is skipped and counted, so that
    /// latency stays bounded when the CPU saturates. The default, 0.4 s, is the 0.5 s latency objective less
    /// room for a window's inference and delivery: with 0.5 s, per-frame VAD at twice its capacity gave a p95 of
    /// 508 ms; with 0.4 s, 412 ms (docs/benchmarks.md). 0 turns it off (the writer then runs the VAD itself, as
    /// replay does).
    /// </summary>
    public double MaxBacklogSeconds { get; init; } = 0.4;

    /// <summary>Live streams: a source ahead of real time waits once this much audio is queued for the VAD.</summary>
    public double MaxQueuedSeconds { get; init; } = 5;

    /// <summary>Time constant of the exponential moving average over window scores.</summary>
    public double SmoothingSeconds { get; init; } = 1.0;

    /// <summary>A new label must lead the current one by this much (smoothed) to replace it.</summary>
    public float HysteresisMargin { get; init; } = 0.1f;

    /// <summary>Emit an interim event after every window (finals are always emitted).</summary>
    public bool InterimResults { get; init; } = true;

    public VadOptions Vad { get; init; } = VadOptions.Default;

    /// <summary>
    /// Engine-wide (ignored in a stream's overrides): score the VAD frames of all streams and channels in
    /// shared Silero runs of up to this many frames (the per-frame cost falls with the batch; the figures are
    /// in docs/benchmarks.md). 0 runs each channel's frames on its own, one model run per frame, as before.
    /// Off by default for live engines: past capacity, in a full test run on two cores, batched live streams that
    /// shed served 3 of 340 streams (per-frame VAD keeps serving a share; LiveOverloadTests), because every
    /// stream's own work waits in the same thread-pool queue. Replay (which never sheds) turns it on.
    /// </summary>
    public int VadMaxBatch { get; init; }

    public void Validate()
    {
        Vad.Validate();
        if (WindowSeconds is <= 0 || HopSeconds is <= 0)
        {
            throw new ArgumentException("window and hop must be positive.");
        }
        if (VadMaxBatch < 0)
        {
            throw new ArgumentException("the VAD batch must be ≥ 0 frames (0: no batching).");
        }
        if (MaxBatch < 1 || ConcurrentRuns < 1 || QueueCapacity < 1)
        {
            throw new ArgumentException("max batch, concurrent runs and queue capacity must be at least 1.");
        }
        if (MaxBacklogSeconds < 0 || MaxQueuedSeconds < MaxBacklogSeconds)
        {
            throw new ArgumentException(
                "the live backlog bound must be ≥ 0 s and at most the queued-audio bound."
            );
        }
        if (SmoothingSeconds < 0 || HysteresisMargin is < 0 or >= 1)
        {
            throw new ArgumentException("smoothing must be ≥ 0 s and the hysteresis margin in [0, 1).");
        }
    }
}
