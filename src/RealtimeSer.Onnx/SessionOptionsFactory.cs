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
                AppendCuda(native, options);
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

    /// <summary>
    /// The CUDA provider set up for serving: the convolution search and workspace chosen (see
    /// <see cref="OnnxSessionOptions.CudaConvSearch"/>), copies on the compute stream (ONNX Runtime's default,
    /// said explicitly: a separate copy stream races on some models), and the memory arena growing by what is
    /// asked rather than doubling, so a few large shapes do not reserve twice the memory they use.
    /// </summary>
    private static void AppendCuda(SessionOptions native, OnnxSessionOptions options)
    {
        using var cuda = new OrtCUDAProviderOptions();
        cuda.UpdateOptions(
            new Dictionary<string, string>
            {
                ["device_id"] = options.CudaDeviceId.ToString(
                    System.Globalization.CultureInfo.InvariantCulture
                ),
                ["cudnn_conv_algo_search"] = options.CudaConvSearch switch
                {
                    CudnnConvSearch.Exhaustive => "EXHAUSTIVE",
                    CudnnConvSearch.Default => "DEFAULT",
                    _ => "HEURISTIC",
                },
                ["cudnn_conv_use_max_workspace"] = options.CudaMaxWorkspace ? "1" : "0",
                ["do_copy_in_default_stream"] = "1",
                ["arena_extend_strategy"] = "kSameAsRequested",
            }
        );
        native.AppendExecutionProvider_CUDA(cuda);
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
