using System.Globalization;

namespace RealtimeSer.Onnx.Native;

/// <summary>Turns <see cref="OnnxSessionOptions"/> into a native <c>OrtSessionOptions</c>.</summary>
internal static unsafe class SessionOptionsFactory
{
    public static OrtSessionOptionsHandle Create(OnnxSessionOptions options, bool withCuda)
    {
        var api = OrtApi.Instance;
        nint raw;
        api.Check(api.CreateSessionOptions(&raw), "CreateSessionOptions");
        var handle = new OrtSessionOptionsHandle(raw);
        try
        {
            api.Check(api.SetIntraOpNumThreads(raw, options.IntraOpThreads), "SetIntraOpNumThreads");
            api.Check(api.SetInterOpNumThreads(raw, options.InterOpThreads), "SetInterOpNumThreads");
            api.Check(
                api.SetSessionGraphOptimizationLevel(raw, ToNative(options.Optimization)),
                "SetSessionGraphOptimizationLevel"
            );
            var spinning = options.AllowSpinning ? "1" : "0";
            AddConfig(raw, "session.intra_op.allow_spinning", spinning);
            AddConfig(raw, "session.inter_op.allow_spinning", spinning);
            if (!string.IsNullOrEmpty(options.LogId))
            {
                fixed (byte* logId = Utf8.Z(options.LogId))
                {
                    api.Check(api.SetSessionLogId(raw, logId), "SetSessionLogId");
                }
            }
            if (withCuda)
            {
                AppendCuda(raw, options.CudaDeviceId);
            }
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static int ToNative(GraphOptimization level) =>
        level switch
        {
            GraphOptimization.Disabled => 0,
            GraphOptimization.Basic => 1,
            GraphOptimization.Extended => 2,
            GraphOptimization.All => 99,
            _ => throw new ArgumentOutOfRangeException(
                nameof(level),
                level,
                "Unknown graph optimization level."
            ),
        };

    private static void AddConfig(nint options, string key, string value)
    {
        var api = OrtApi.Instance;
        fixed (byte* k = Utf8.Z(key))
        fixed (byte* v = Utf8.Z(value))
        {
            api.Check(api.AddSessionConfigEntry(options, k, v), $"AddSessionConfigEntry({key})");
        }
    }

    private static void AppendCuda(nint options, int deviceId)
    {
        var api = OrtApi.Instance;
        nint cuda;
        api.Check(api.CreateCUDAProviderOptions(&cuda), "CreateCUDAProviderOptions");
        // ORT copies the provider options when appending, so they can go as soon as we are done.
        using var cudaHandle = new OrtCudaProviderOptionsHandle(cuda);
        fixed (byte* key = Utf8.Z("device_id"))
        fixed (byte* value = Utf8.Z(deviceId.ToString(CultureInfo.InvariantCulture)))
        {
            var keys = stackalloc byte*[1] { key };
            var values = stackalloc byte*[1] { value };
            api.Check(api.UpdateCUDAProviderOptions(cuda, keys, values, 1), "UpdateCUDAProviderOptions");
        }
        api.Check(
            api.SessionOptionsAppendExecutionProvider_CUDA_V2(options, cuda),
            "SessionOptionsAppendExecutionProvider_CUDA_V2"
        );
    }
}
