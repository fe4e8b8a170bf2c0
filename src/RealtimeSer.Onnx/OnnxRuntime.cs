using System.Reflection;
using Microsoft.ML.OnnxRuntime;

namespace RealtimeSer.Onnx;

/// <summary>
/// The process-wide ONNX Runtime from the Microsoft.ML.OnnxRuntime packages: its version, its execution
/// providers and one <c>OrtEnv</c>, created on first use and kept for the life of the process, because
/// ORT forbids releasing the environment while any session still exists.
/// </summary>
public static class OnnxRuntime
{
    public const string CpuProvider = "CPUExecutionProvider";
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>What to do to get CUDA with this build; part of every "no CUDA" message.</summary>
    public static string GpuHint =>
        IsGpuFlavour
            ? "install an NVIDIA driver, CUDA 13 and cuDNN 9, with their libraries on LD_LIBRARY_PATH"
            : "build with the GPU package: OnnxRuntimeFlavor=Gpu ./ser ... (or dotnet build -p:OnnxRuntimeFlavor=Gpu), "
                + "which needs CUDA 13 and cuDNN 9 on the library path";

    private static readonly Lazy<OrtEnv> s_env = new(CreateEnv, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<IReadOnlyList<string>> s_providers = new(
        () => Env.GetAvailableProviders(),
        LazyThreadSafetyMode.ExecutionAndPublication
    );
    private static readonly Lazy<string?> s_cudaProblem = new(
        ProbeCuda,
        LazyThreadSafetyMode.ExecutionAndPublication
    );

    /// <summary>The build's OnnxRuntimeFlavor: "Cpu" or "Gpu".</summary>
    public static string Flavor { get; } =
        typeof(OnnxRuntime)
            .Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "OnnxRuntimeFlavor")
            ?.Value
        ?? "Cpu";

    /// <summary>The NuGet package the native library came from.</summary>
    public static string NativePackage =>
        IsGpuFlavour ? "Microsoft.ML.OnnxRuntime.Gpu.Linux" : "Microsoft.ML.OnnxRuntime";

    private static bool IsGpuFlavour => Flavor.Equals("Gpu", StringComparison.OrdinalIgnoreCase);

    /// <summary>The native library's version, e.g. "1.31.1".</summary>
    public static string Version => Env.GetVersionString();

    /// <summary>Execution providers compiled into the native library, e.g. ["CPUExecutionProvider"].</summary>
    public static IReadOnlyList<string> AvailableProviders => s_providers.Value;

    /// <summary>
    /// Why CUDA cannot be used, in ONNX Runtime's own words (e.g. a missing libcublasLt.so.13), or null
    /// when its CUDA provider loads. Listing CUDAExecutionProvider is not enough: the GPU package always
    /// lists it, and its provider library still needs CUDA and cuDNN. Probed once per process.
    /// </summary>
    public static string? CudaUnavailableReason => s_cudaProblem.Value;

    /// <summary>True when the CUDA provider loads (a session can still fail later, e.g. with no GPU present).</summary>
    public static bool HasCuda => CudaUnavailableReason is null;

    /// <summary>
    /// The environment, created here with our log settings before anything else can create ORT's default one.
    /// Every path into ORT goes through this first.
    /// </summary>
    internal static OrtEnv Env => s_env.Value;

    private static OrtEnv CreateEnv()
    {
        // Warning level: ORT's info lines would drown the app's own log.
        var options = new EnvironmentCreationOptions
        {
            logId = "realtime-ser",
            logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
            loggingFunction = OrtLog.Function,
        };
        try
        {
            return OrtEnv.CreateInstanceWithOptions(ref options);
        }
        catch (TypeInitializationException ex) when (ex.InnerException is DllNotFoundException missing)
        {
            throw new DllNotFoundException(
                $"ONNX Runtime's native library could not be loaded ({missing.Message}). It comes with the "
                    + "Microsoft.ML.OnnxRuntime package: rebuild (./ser does it), and check that "
                    + "runtimes/linux-x64/native/libonnxruntime.so is next to the program.",
                ex
            );
        }
    }

    private static string? ProbeCuda()
    {
        if (!AvailableProviders.Contains(CudaProvider))
        {
            return $"ONNX Runtime {Version} was built without {CudaProvider} (the CPU package); {GpuHint}";
        }
        using var log = OrtLog.Capture();
        try
        {
            // Appending the provider is what loads libonnxruntime_providers_cuda and its CUDA dependencies.
            using var options = SessionOptionsFactory.Create(new OnnxSessionOptions(), withCuda: true);
            return null;
        }
        catch (OnnxException ex)
        {
            return $"the CUDA provider of ONNX Runtime {Version} failed to load: {WithLog(ex, log)}";
        }
    }

    /// <summary>ORT's error, or the cause it logged when the error itself is vaguer (as for a missing CUDA library).</summary>
    internal static string WithLog(OnnxException ex, OrtLog.CaptureScope log) =>
        log.Lines.Count > 0 ? log.Lines[^1] : ex.NativeMessage.Trim();
}
