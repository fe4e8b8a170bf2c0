using System.Runtime.InteropServices;

namespace RealtimeSer.Onnx.Native;

/// <summary>
/// The subset of the <c>OrtApi</c> function table we use, read once as typed function pointers.
/// Every pointer argument is a plain <see cref="nint"/>: ownership lives in the SafeHandles, not here.
/// </summary>
internal sealed unsafe class OrtApi
{
    /// <summary>
    /// The table version we ask for. Every function we call exists since API 11 (ORT 1.11), so asking for
    /// 13 keeps older user builds (REALTIMESER_ONNXRUNTIME) usable while any newer library still answers.
    /// </summary>
    public const uint RequestedVersion = 13;

    private static readonly Lazy<OrtApi> s_instance = new(
        () => new OrtApi(OrtLibrary.GetApiBase),
        LazyThreadSafetyMode.ExecutionAndPublication
    );

    public static OrtApi Instance => s_instance.Value;

    public string VersionString { get; }

    public readonly delegate* unmanaged<nint, int> GetErrorCode;
    public readonly delegate* unmanaged<nint, byte*> GetErrorMessage;
    public readonly delegate* unmanaged<int, byte*, nint*, nint> CreateEnv;
    public readonly delegate* unmanaged<nint, nint> DisableTelemetryEvents;
    public readonly delegate* unmanaged<nint, void*, nint, nint*, nint> CreateSession;
    public readonly delegate* unmanaged<nint, void*, nuint, nint, nint*, nint> CreateSessionFromArray;
    public readonly delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint> Run;
    public readonly delegate* unmanaged<nint*, nint> CreateSessionOptions;
    public readonly delegate* unmanaged<nint, byte*, nint> SetSessionLogId;
    public readonly delegate* unmanaged<nint, int, nint> SetSessionGraphOptimizationLevel;
    public readonly delegate* unmanaged<nint, int, nint> SetIntraOpNumThreads;
    public readonly delegate* unmanaged<nint, int, nint> SetInterOpNumThreads;
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetInputCount;
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetOutputCount;
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetInputTypeInfo;
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;
    public readonly delegate* unmanaged<nint, nuint, nint, nint*, nint> SessionGetInputName;
    public readonly delegate* unmanaged<nint, nuint, nint, nint*, nint> SessionGetOutputName;
    public readonly delegate* unmanaged<
        nint,
        void*,
        nuint,
        long*,
        nuint,
        int,
        nint*,
        nint> CreateTensorWithDataAsOrtValue;
    public readonly delegate* unmanaged<nint, void**, nint> GetTensorMutableData;
    public readonly delegate* unmanaged<nint, nint*, nint> CastTypeInfoToTensorInfo;
    public readonly delegate* unmanaged<nint, int*, nint> GetOnnxTypeFromTypeInfo;
    public readonly delegate* unmanaged<nint, int*, nint> GetTensorElementType;
    public readonly delegate* unmanaged<nint, nuint*, nint> GetDimensionsCount;
    public readonly delegate* unmanaged<nint, long*, nuint, nint> GetDimensions;
    public readonly delegate* unmanaged<nint, nuint*, nint> GetTensorShapeElementCount;
    public readonly delegate* unmanaged<nint, nint*, nint> GetTensorTypeAndShape;
    public readonly delegate* unmanaged<int, int, nint*, nint> CreateCpuMemoryInfo;
    public readonly delegate* unmanaged<nint, nint, nint> AllocatorFree;
    public readonly delegate* unmanaged<nint*, nint> GetAllocatorWithDefaultOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseEnv;
    public readonly delegate* unmanaged<nint, void> ReleaseStatus;
    public readonly delegate* unmanaged<nint, void> ReleaseMemoryInfo;
    public readonly delegate* unmanaged<nint, void> ReleaseSession;
    public readonly delegate* unmanaged<nint, void> ReleaseValue;
    public readonly delegate* unmanaged<nint, void> ReleaseTypeInfo;
    public readonly delegate* unmanaged<nint, void> ReleaseTensorTypeAndShapeInfo;
    public readonly delegate* unmanaged<nint, void> ReleaseSessionOptions;
    public readonly delegate* unmanaged<nint, nint*, nint> SessionGetModelMetadata;
    public readonly delegate* unmanaged<nint, nint, nint*, nint> ModelMetadataGetProducerName;
    public readonly delegate* unmanaged<nint, nint, nint*, nint> ModelMetadataGetGraphName;
    public readonly delegate* unmanaged<nint, nint, byte*, nint*, nint> ModelMetadataLookupCustomMetadataMap;
    public readonly delegate* unmanaged<nint, void> ReleaseModelMetadata;
    public readonly delegate* unmanaged<
        nint,
        nint,
        nint**,
        long*,
        nint> ModelMetadataGetCustomMetadataMapKeys;
    public readonly delegate* unmanaged<nint**, int*, nint> GetAvailableProviders;
    public readonly delegate* unmanaged<nint*, int, nint> ReleaseAvailableProviders;
    public readonly delegate* unmanaged<nint, byte*, byte*, nint> AddSessionConfigEntry;
    public readonly delegate* unmanaged<nint, nint, nint> SessionOptionsAppendExecutionProvider_CUDA_V2;
    public readonly delegate* unmanaged<nint*, nint> CreateCUDAProviderOptions;
    public readonly delegate* unmanaged<nint, byte**, byte**, nuint, nint> UpdateCUDAProviderOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseCUDAProviderOptions;

    /// <summary>The process-wide default CPU allocator; owned by ORT and never released.</summary>
    public nint DefaultAllocator { get; }

    private OrtApi(nint getApiBaseAddress)
    {
        // OrtApiBase is { GetApi, GetVersionString }.
        var getApiBase = (delegate* unmanaged<nint*>)getApiBaseAddress;
        var apiBase = getApiBase();
        var getApi = (delegate* unmanaged<uint, nint*>)apiBase[0];
        var getVersionString = (delegate* unmanaged<byte*>)apiBase[1];
        VersionString = Marshal.PtrToStringUTF8((nint)getVersionString()) ?? "unknown";

        var t = getApi(RequestedVersion);
        if (t == null)
        {
            throw new OnnxException(
                OnnxErrorCode.Fail,
                $"ONNX Runtime {VersionString} does not support C API version {RequestedVersion} "
                    + "(needs ONNX Runtime 1.13 or newer). "
                    + OrtLibrary.Hint
            );
        }

        GetErrorCode = (delegate* unmanaged<nint, int>)t[OrtApiIndex.GetErrorCode];
        GetErrorMessage = (delegate* unmanaged<nint, byte*>)t[OrtApiIndex.GetErrorMessage];
        CreateEnv = (delegate* unmanaged<int, byte*, nint*, nint>)t[OrtApiIndex.CreateEnv];
        DisableTelemetryEvents = (delegate* unmanaged<nint, nint>)t[OrtApiIndex.DisableTelemetryEvents];
        CreateSession = (delegate* unmanaged<nint, void*, nint, nint*, nint>)t[OrtApiIndex.CreateSession];
        CreateSessionFromArray = (delegate* unmanaged<nint, void*, nuint, nint, nint*, nint>)
            t[OrtApiIndex.CreateSessionFromArray];
        Run = (delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)
            t[OrtApiIndex.Run];
        CreateSessionOptions = (delegate* unmanaged<nint*, nint>)t[OrtApiIndex.CreateSessionOptions];
        SetSessionLogId = (delegate* unmanaged<nint, byte*, nint>)t[OrtApiIndex.SetSessionLogId];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<nint, int, nint>)
            t[OrtApiIndex.SetSessionGraphOptimizationLevel];
        SetIntraOpNumThreads = (delegate* unmanaged<nint, int, nint>)t[OrtApiIndex.SetIntraOpNumThreads];
        SetInterOpNumThreads = (delegate* unmanaged<nint, int, nint>)t[OrtApiIndex.SetInterOpNumThreads];
        SessionGetInputCount = (delegate* unmanaged<nint, nuint*, nint>)t[OrtApiIndex.SessionGetInputCount];
        SessionGetOutputCount = (delegate* unmanaged<nint, nuint*, nint>)t[OrtApiIndex.SessionGetOutputCount];
        SessionGetInputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)
            t[OrtApiIndex.SessionGetInputTypeInfo];
        SessionGetOutputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)
            t[OrtApiIndex.SessionGetOutputTypeInfo];
        SessionGetInputName = (delegate* unmanaged<nint, nuint, nint, nint*, nint>)
            t[OrtApiIndex.SessionGetInputName];
        SessionGetOutputName = (delegate* unmanaged<nint, nuint, nint, nint*, nint>)
            t[OrtApiIndex.SessionGetOutputName];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<
            nint,
            void*,
            nuint,
            long*,
            nuint,
            int,
            nint*,
            nint>)
            t[OrtApiIndex.CreateTensorWithDataAsOrtValue];
        GetTensorMutableData = (delegate* unmanaged<nint, void**, nint>)t[OrtApiIndex.GetTensorMutableData];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<nint, nint*, nint>)
            t[OrtApiIndex.CastTypeInfoToTensorInfo];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged<nint, int*, nint>)
            t[OrtApiIndex.GetOnnxTypeFromTypeInfo];
        GetTensorElementType = (delegate* unmanaged<nint, int*, nint>)t[OrtApiIndex.GetTensorElementType];
        GetDimensionsCount = (delegate* unmanaged<nint, nuint*, nint>)t[OrtApiIndex.GetDimensionsCount];
        GetDimensions = (delegate* unmanaged<nint, long*, nuint, nint>)t[OrtApiIndex.GetDimensions];
        GetTensorShapeElementCount = (delegate* unmanaged<nint, nuint*, nint>)
            t[OrtApiIndex.GetTensorShapeElementCount];
        GetTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)t[OrtApiIndex.GetTensorTypeAndShape];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, nint*, nint>)t[OrtApiIndex.CreateCpuMemoryInfo];
        AllocatorFree = (delegate* unmanaged<nint, nint, nint>)t[OrtApiIndex.AllocatorFree];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<nint*, nint>)
            t[OrtApiIndex.GetAllocatorWithDefaultOptions];
        ReleaseEnv = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseEnv];
        ReleaseStatus = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseStatus];
        ReleaseMemoryInfo = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseMemoryInfo];
        ReleaseSession = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseSession];
        ReleaseValue = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseValue];
        ReleaseTypeInfo = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseTypeInfo];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)
            t[OrtApiIndex.ReleaseTensorTypeAndShapeInfo];
        ReleaseSessionOptions = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseSessionOptions];
        SessionGetModelMetadata = (delegate* unmanaged<nint, nint*, nint>)
            t[OrtApiIndex.SessionGetModelMetadata];
        ModelMetadataGetProducerName = (delegate* unmanaged<nint, nint, nint*, nint>)
            t[OrtApiIndex.ModelMetadataGetProducerName];
        ModelMetadataGetGraphName = (delegate* unmanaged<nint, nint, nint*, nint>)
            t[OrtApiIndex.ModelMetadataGetGraphName];
        ModelMetadataLookupCustomMetadataMap = (delegate* unmanaged<nint, nint, byte*, nint*, nint>)
            t[OrtApiIndex.ModelMetadataLookupCustomMetadataMap];
        ReleaseModelMetadata = (delegate* unmanaged<nint, void>)t[OrtApiIndex.ReleaseModelMetadata];
        ModelMetadataGetCustomMetadataMapKeys = (delegate* unmanaged<nint, nint, nint**, long*, nint>)
            t[OrtApiIndex.ModelMetadataGetCustomMetadataMapKeys];
        GetAvailableProviders = (delegate* unmanaged<nint**, int*, nint>)t[OrtApiIndex.GetAvailableProviders];
        ReleaseAvailableProviders = (delegate* unmanaged<nint*, int, nint>)
            t[OrtApiIndex.ReleaseAvailableProviders];
        AddSessionConfigEntry = (delegate* unmanaged<nint, byte*, byte*, nint>)
            t[OrtApiIndex.AddSessionConfigEntry];
        SessionOptionsAppendExecutionProvider_CUDA_V2 = (delegate* unmanaged<nint, nint, nint>)
            t[OrtApiIndex.SessionOptionsAppendExecutionProvider_CUDA_V2];
        CreateCUDAProviderOptions = (delegate* unmanaged<nint*, nint>)
            t[OrtApiIndex.CreateCUDAProviderOptions];
        UpdateCUDAProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)
            t[OrtApiIndex.UpdateCUDAProviderOptions];
        ReleaseCUDAProviderOptions = (delegate* unmanaged<nint, void>)
            t[OrtApiIndex.ReleaseCUDAProviderOptions];

        nint allocator;
        Check(GetAllocatorWithDefaultOptions(&allocator), "GetAllocatorWithDefaultOptions");
        DefaultAllocator = allocator;
    }

    /// <summary>Turns a non-null <c>OrtStatus*</c> into an <see cref="OnnxException"/>, releasing the status first.</summary>
    /// <param name="context">What we were working on (e.g. the model path), so the message says which one failed.</param>
    public void Check(nint status, string operation, string? context = null)
    {
        if (status == 0)
        {
            return;
        }
        using var handle = new OrtStatusHandle(status);
        var code = (OnnxErrorCode)GetErrorCode(status);
        var message = Marshal.PtrToStringUTF8((nint)GetErrorMessage(status)) ?? "(no message)";
        var prefix = context is null ? "" : context + ": ";
        throw new OnnxException(code, $"{prefix}{operation} failed: {message}", message);
    }

    /// <summary>Copies an allocator-owned UTF-8 string and frees it with the default allocator.</summary>
    public string TakeAllocatorString(nint utf8)
    {
        using var owned = new OrtAllocatorStringHandle(utf8);
        return Marshal.PtrToStringUTF8(utf8) ?? string.Empty;
    }
}
