namespace RealtimeSer.Onnx;

/// <summary>Where a session runs.</summary>
public enum ExecutionProviderKind
{
    /// <summary>CUDA when the loaded library offers it and it initializes, otherwise CPU.</summary>
    Auto,
    Cpu,
    Cuda,
}
