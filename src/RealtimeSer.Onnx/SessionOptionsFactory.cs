using Microsoft.ML.OnnxRuntime;

namespace RealtimeSer.Onnx;

/// <summary>Turns <see cref="OnnxSessionOptions"/> into the package's <see cref="SessionOptions"/>.</summary>
internal static class SessionOptionsFactory
{
    public static SessionOptions Create(OnnxSessionOptions options, bool withCuda)
    {
        _ = OnnxRuntime.Env;
        var native = new SessionOptions();
        try
        {
            native.IntraOpNumThreads = options.IntraOpThreads;
            native.InterOpNumThreads = options.InterOpThreads;
            native.GraphOptimizationLevel = ToNative(options.Optimization);
            var spinning = options.AllowSpinning ? "1" : "0";
            native.AddSessionConfigEntry("session.intra_op.allow_spinning", spinning);
            native.AddSessionConfigEntry("session.inter_op.allow_spinning", spinning);
            if (!string.IsNullOrEmpty(options.LogId))
            {
                native.LogId = options.LogId;
            }
            if (withCuda)
            {
                native.AppendExecutionProvider_CUDA(options.CudaDeviceId);
            }
            return native;
        }
        catch (OnnxRuntimeException ex)
        {
            native.Dispose();
            throw OrtErrors.Translate(ex, "Cannot set up an ONNX Runtime session");
        }
        catch
        {
            native.Dispose();
            throw;
        }
    }

    private static GraphOptimizationLevel ToNative(GraphOptimization level) =>
        level switch
        {
            GraphOptimization.Disabled => GraphOptimizationLevel.ORT_DISABLE_ALL,
            GraphOptimization.Basic => GraphOptimizationLevel.ORT_ENABLE_BASIC,
            GraphOptimization.Extended => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            GraphOptimization.All => GraphOptimizationLevel.ORT_ENABLE_ALL,
            _ => throw new ArgumentOutOfRangeException(
                nameof(level),
                level,
                "Unknown graph optimization level."
            ),
        };
}
