using System.Reflection;
using RealtimeSer.Core.Inference;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary>
/// What <c>ser</c> says about where a model runs. A build with ONNX Runtime's CPU package cannot use CUDA by
/// design, so its model lines do not explain CUDA at every start; <c>ser info</c> says how to get it. A GPU
/// build that fell back to CPU says why on every model line, in ONNX Runtime's words.
/// </summary>
internal static class ExecutionNotes
{
    /// <summary>True for the self-contained build of tools/publish, where there is no repository and no <c>./ser</c>.</summary>
    public static bool IsPublished { get; } =
        typeof(ExecutionNotes)
            .Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Any(a => a.Key == "SerPublished" && a.Value == "true");

    /// <summary>True when this build's ONNX Runtime has a CUDA provider at all (the GPU package).</summary>
    public static bool HasCudaProvider => OnnxRuntime.AvailableProviders.Contains(OnnxRuntime.CudaProvider);

    /// <summary>
    /// "model general6 on CPU (ONNX Runtime 1.31.1, 2 threads)", plus why CUDA was not used when this build
    /// could have used it.
    /// </summary>
    public static string ModelLine(string id, OnnxEmotionClassifier classifier, int? threads)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        var where =
            $"model {id} on {classifier.ExecutionProvider.ToString().ToUpperInvariant()} (ONNX Runtime {OnnxRuntime.Version}"
            + (threads is { } n ? $", {n} threads)" : ")");
        return HasCudaProvider && classifier.FallbackReason is { } reason
            ? $"{where}; CUDA not used: {reason}"
            : where;
    }

    /// <summary>The <c>cuda:</c> line of <c>ser info</c>: "available", or why not and what to do.</summary>
    public static string CudaStatus()
    {
        if (!HasCudaProvider && IsPublished)
        {
            return $"not in this build: the published ser carries ONNX Runtime's CPU package ({OnnxRuntime.NativePackage} "
                + $"{OnnxRuntime.Version}); for CUDA, build ser from the repository with OnnxRuntimeFlavor=Gpu "
                + "(its README, \"Switching to the GPU\")";
        }
        return OnnxRuntime.CudaUnavailableReason?.Trim() ?? "available";
    }
}
