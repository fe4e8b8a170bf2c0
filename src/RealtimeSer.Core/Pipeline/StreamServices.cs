using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// What the engine gives each stream when it makes it: the shared VAD and its batcher, where windows go,
/// metrics and profile, the live bound, and a fresh set of model outputs per channel. A stream reads its
/// configuration from here and from its own options, never back from the engine. A stream whose audio has ended
/// and whose last windows are queued says so (<c>AudioEnded</c>): a batch waiting to fill with its windows runs.
/// </summary>
internal sealed record StreamServices(
    SileroVadModel VadModel,
    VadBatcher? VadBatcher,
    EngineMetrics Metrics,
    EngineProfile Profile,
    long MaxWindowAgeTicks,
    bool LiveEngine,
    double MaxBacklogSeconds,
    double MaxQueuedSeconds,
    int MinWindowSamples,
    Func<SeniorityScheduler> Scheduler,
    Func<ModelOutput[]> Outputs,
    Func<WindowJob, bool, CancellationToken, ValueTask> Enqueue,
    Action AudioEnded
);

/// <summary>
/// Whether a live stream's result is too late to give: its audio arrived more than the engine's live bound ago,
/// on a stream that drops late work (a source at real time, or one shedding now; a file sent fast keeps every
/// window). The engine asks before a window's run, each channel when it finds a segment's end.
/// </summary>
internal sealed class LateWork(long maxAgeTicks, IngestBacklog? backlog)
{
    /// <summary>A live source at real time, or one shedding now (its listener wants now, not complete).</summary>
    public bool DropsLateWindows => backlog is { } b && (!b.Ahead || b.ShedWithin(2));

    /// <param name="arrivedAt">A <see cref="System.Diagnostics.Stopwatch"/> timestamp.</param>
    public bool IsTooLate(long arrivedAt, long now) =>
        maxAgeTicks > 0 && now - arrivedAt > maxAgeTicks && DropsLateWindows;
}
