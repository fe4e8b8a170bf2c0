using System.Runtime.InteropServices;

namespace RealtimeSer.Onnx.Native;

/// <summary>
/// Base for every ORT-owned object: release goes through the matching <c>Release*</c> entry of the table,
/// and SafeHandle's ref counting keeps a handle alive while a call that borrowed it is still running.
/// </summary>
internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle(nint handle)
        : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;
}

internal sealed unsafe class OrtStatusHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseStatus(handle);
        return true;
    }
}

internal sealed unsafe class OrtEnvHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseEnv(handle);
        return true;
    }
}

internal sealed unsafe class OrtSessionOptionsHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseSessionOptions(handle);
        return true;
    }
}

internal sealed unsafe class OrtSessionHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseSession(handle);
        return true;
    }
}

internal sealed unsafe class OrtValueHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseValue(handle);
        return true;
    }
}

internal sealed unsafe class OrtMemoryInfoHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseMemoryInfo(handle);
        return true;
    }
}

internal sealed unsafe class OrtTypeInfoHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseTypeInfo(handle);
        return true;
    }
}

internal sealed unsafe class OrtTensorTypeAndShapeInfoHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseTensorTypeAndShapeInfo(handle);
        return true;
    }
}

internal sealed unsafe class OrtModelMetadataHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseModelMetadata(handle);
        return true;
    }
}

internal sealed unsafe class OrtCudaProviderOptionsHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseCUDAProviderOptions(handle);
        return true;
    }
}

/// <summary>Memory that ORT allocated with its default allocator on our behalf (names, metadata strings, key arrays).</summary>
internal sealed unsafe class OrtAllocatorStringHandle(nint handle) : OrtHandle(handle)
{
    protected override bool ReleaseHandle()
    {
        var api = OrtApi.Instance;
        // A failing free cannot be reported from a release path; the status still must not leak.
        var status = api.AllocatorFree(api.DefaultAllocator, handle);
        if (status != 0)
        {
            api.ReleaseStatus(status);
        }
        return true;
    }
}
