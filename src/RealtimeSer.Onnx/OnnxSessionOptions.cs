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

    /// <summary>
    /// How cuDNN picks a convolution algorithm for each new input shape. ONNX Runtime's default, exhaustive
    /// search, times every algorithm at the first run of every shape: right for one fixed shape, a stall of
    /// seconds per shape for a server that sees many. Heuristic picks from cuDNN's own ranking at once.
    /// </summary>
    public CudnnConvSearch CudaConvSearch { get; init; } = CudnnConvSearch.Heuristic;

    /// <summary>Let cuDNN use as much workspace as the fastest algorithm wants (more memory, faster convolutions).</summary>
    public bool CudaMaxWorkspace { get; init; } = true;

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

/// <summary>cuDNN's convolution algorithm search (ONNX Runtime's <c>cudnn_conv_algo_search</c>).</summary>
public enum CudnnConvSearch
{
    /// <summary>cuDNN's ranking, no timing: fast for every new shape.</summary>
    Heuristic,

    /// <summary>Times every algorithm at the first run of each shape: best for one fixed shape.</summary>
    Exhaustive,

    /// <summary>The implicit-precomputed GEMM algorithm: the least memory.</summary>
    Default,
}
