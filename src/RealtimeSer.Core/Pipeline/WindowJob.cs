namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// One window of one stream's channel on its way to the classifier. Its samples are rented from the shared
/// pool and go back as soon as the batch has copied them.
/// </summary>
internal sealed class WindowJob
{
    public required ChannelState Owner { get; init; }
    public required long Sequence { get; init; }
    public required int Segment { get; init; }
    public required long StartSample { get; init; }
    public required long EndSample { get; init; }
    public required float[] Samples { get; init; }
    public required int Length { get; init; }

    /// <summary>Timestamp (Stopwatch) at which the window's last sample arrived.</summary>
    public required long ArrivedAt { get; init; }

    public long EnqueuedAt { get; set; }

    public void ReturnSamples() => EnginePool.Floats.Return(Samples);
}
