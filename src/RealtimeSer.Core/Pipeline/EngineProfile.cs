using System.Diagnostics;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Where an engine's time goes, stage by stage, as busy time summed over threads: resampling, the windower's own
/// work (ring, DC filter, cutting windows; the VAD model's runs are its session's), and delivery (speaker
/// adaptation, smoothing, events). The ONNX runs themselves are timed by their sessions
/// (<see cref="RealtimeSer.Onnx.OnnxSession.BusyTime"/>). A few timestamps per block and window: cheap enough
/// to be always on, so `ser bench pipeline` can print the split of any run.
/// </summary>
public sealed class EngineProfile
{
    private long _resample;
    private long _windowing;
    private long _delivery;
    private long _adaptation;

    public TimeSpan Resample => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _resample));

    public TimeSpan Windowing => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _windowing));

    /// <summary>Putting results in window order, smoothing and publishing events, adaptation included.</summary>
    public TimeSpan Delivery => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _delivery));

    /// <summary>The channels' speaker adaptation (running statistics and the head), part of <see cref="Delivery"/>.</summary>
    public TimeSpan Adaptation => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _adaptation));

    internal void AddResample(long since) => Interlocked.Add(ref _resample, Stopwatch.GetTimestamp() - since);

    internal void AddWindowing(long since) =>
        Interlocked.Add(ref _windowing, Stopwatch.GetTimestamp() - since);

    internal void AddDelivery(long since) => Interlocked.Add(ref _delivery, Stopwatch.GetTimestamp() - since);

    internal void AddAdaptation(long since) =>
        Interlocked.Add(ref _adaptation, Stopwatch.GetTimestamp() - since);
}
