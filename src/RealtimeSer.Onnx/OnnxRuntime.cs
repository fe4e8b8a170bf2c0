using System.Runtime.InteropServices;
using RealtimeSer.Onnx.Native;

namespace RealtimeSer.Onnx;

/// <summary>
/// The process-wide ONNX Runtime: the loaded library, one <c>OrtEnv</c> and one CPU memory description.
/// Created on first use and kept for the life of the process, because ORT forbids releasing the env
/// while any session still exists.
/// </summary>
public static class OnnxRuntime
{
    public const string CpuProvider = "CPUExecutionProvider";
    public const string CudaProvider = "CUDAExecutionProvider";

    private static readonly Lazy<IReadOnlyList<string>> s_providers = new(
        ReadProviders,
        LazyThreadSafetyMode.ExecutionAndPublication
    );
    private static readonly Lazy<string?> s_cudaProblem = new(
        ProbeCuda,
        LazyThreadSafetyMode.ExecutionAndPublication
    );
    private static readonly Lazy<OrtEnvHandle> s_env = new(
        CreateEnv,
        LazyThreadSafetyMode.ExecutionAndPublication
    );
    private static readonly Lazy<OrtMemoryInfoHandle> s_cpuMemory = new(
        CreateCpuMemoryInfo,
        LazyThreadSafetyMode.ExecutionAndPublication
    );

    /// <summary>The loaded library's version, e.g. "1.30.0".</summary>
    public static string Version => OrtApi.Instance.VersionString;

    /// <summary>Execution providers compiled into the loaded library, e.g. ["CPUExecutionProvider"].</summary>
    public static IReadOnlyList<string> AvailableProviders => s_providers.Value;

    /// <summary>
    /// Why CUDA cannot be used with the loaded library, or null when its CUDA provider loads. Listing
    /// CUDAExecutionProvider is not enough: the npm CPU build lists it but ships no provider plugin.
    /// Probed once per process.
    /// </summary>
    public static string? CudaUnavailableReason => s_cudaProblem.Value;

    /// <summary>True when the CUDA provider loads (a session can still fail later, e.g. with no GPU present).</summary>
    public static bool HasCuda => CudaUnavailableReason is null;

    internal static OrtEnvHandle Env => s_env.Value;

    internal static OrtMemoryInfoHandle CpuMemory => s_cpuMemory.Value;

    private static unsafe IReadOnlyList<string> ReadProviders()
    {
        var api = OrtApi.Instance;
        nint* names;
        int count;
        api.Check(api.GetAvailableProviders(&names, &count), "GetAvailableProviders");
        try
        {
            var result = new string[count];
            for (var i = 0; i < count; i++)
            {
                result[i] = Marshal.PtrToStringUTF8(names[i]) ?? string.Empty;
            }
            return result;
        }
        finally
        {
            api.Check(api.ReleaseAvailableProviders(names, count), "ReleaseAvailableProviders");
        }
    }

    private static string? ProbeCuda()
    {
        if (!AvailableProviders.Contains(CudaProvider))
        {
            return $"ONNX Runtime {Version} was built without {CudaProvider}";
        }
        // The provider logs through the environment's logger while loading: the environment must exist first.
        _ = Env;
        try
        {
            // Appending the provider is what loads libonnxruntime_providers_cuda and its CUDA dependencies.
            using var options = SessionOptionsFactory.Create(new OnnxSessionOptions(), withCuda: true);
            return null;
        }
        catch (OnnxException ex)
        {
            return $"the CUDA provider of ONNX Runtime {Version} failed to load: {ex.NativeMessage}";
        }
    }

    private static unsafe OrtEnvHandle CreateEnv()
    {
        var api = OrtApi.Instance;
        nint env;
        // Warning level: ORT's info lines would drown the app's own log.
        const int warningLevel = 2;
        fixed (byte* logId = "realtime-ser\0"u8)
        {
            api.Check(api.CreateEnv(warningLevel, logId, &env), "CreateEnv");
        }
        var handle = new OrtEnvHandle(env);
        api.Check(api.DisableTelemetryEvents(env), "DisableTelemetryEvents");
        return handle;
    }

    private static unsafe OrtMemoryInfoHandle CreateCpuMemoryInfo()
    {
        var api = OrtApi.Instance;
        nint info;
        // OrtDeviceAllocator (0) + OrtMemTypeDefault (0): plain CPU memory that the caller owns.
        api.Check(api.CreateCpuMemoryInfo(0, 0, &info), "CreateCpuMemoryInfo");
        return new OrtMemoryInfoHandle(info);
    }
}
