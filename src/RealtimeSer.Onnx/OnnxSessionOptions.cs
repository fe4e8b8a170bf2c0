namespace RealtimeSer.Onnx;

/// <summary>How to build a session. The defaults suit a server running many small sessions side by side.</summary>
public sealed record OnnxSessionOptions
{
    /// <summary>Threads inside one operator; 0 lets ORT pick (one per core).</summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>Threads across independent graph branches; 0 lets ORT pick.</summary>
    public int InterOpThreads { get; init; } = 1;

    public GraphOptimization Optimization { get; init; } = GraphOptimization.All;

    public ExecutionProviderKind Provider { get; init; } = ExecutionProviderKind.Auto;

    public int CudaDeviceId { get; init; }

    /// <summary>Tag for ORT's own log lines about this session.</summary>
    public string? LogId { get; init; }

    /// <summary>
    /// Whether ORT's pool threads busy-wait for work. Off by default: with many streams sharing few cores,
    /// spinning threads steal CPU from the sessions doing real work.
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>Receives one-line notes such as "CUDA unavailable, using CPU"; the library itself never writes to the console.</summary>
    public Action<string>? Log { get; init; }
}
