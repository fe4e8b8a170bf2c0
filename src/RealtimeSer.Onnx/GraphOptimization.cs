namespace RealtimeSer.Onnx;

/// <summary>ORT graph optimization level (see GraphOptimizationLevel in onnxruntime_c_api.h).</summary>
public enum GraphOptimization
{
    Disabled,
    Basic,
    Extended,
    All,
}
