using System.Runtime.InteropServices;

namespace RealtimeSer.Onnx.Native;

/// <summary>Reads what a loaded model declares: inputs, outputs and metadata. Load-time only.</summary>
internal static unsafe class SessionIntrospection
{
    public static TensorInfo[] ReadInputs(nint session) => Read(session, isInput: true);

    public static TensorInfo[] ReadOutputs(nint session) => Read(session, isInput: false);

    private static TensorInfo[] Read(nint session, bool isInput)
    {
        var api = OrtApi.Instance;
        nuint count;
        api.Check(
            isInput ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count),
            isInput ? "SessionGetInputCount" : "SessionGetOutputCount"
        );
        var result = new TensorInfo[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            nint name;
            api.Check(
                isInput
                    ? api.SessionGetInputName(session, i, api.DefaultAllocator, &name)
                    : api.SessionGetOutputName(session, i, api.DefaultAllocator, &name),
                isInput ? "SessionGetInputName" : "SessionGetOutputName"
            );
            var text = api.TakeAllocatorString(name);

            nint typeInfo;
            api.Check(
                isInput
                    ? api.SessionGetInputTypeInfo(session, i, &typeInfo)
                    : api.SessionGetOutputTypeInfo(session, i, &typeInfo),
                isInput ? "SessionGetInputTypeInfo" : "SessionGetOutputTypeInfo"
            );
            using var typeInfoHandle = new OrtTypeInfoHandle(typeInfo);
            result[(int)i] = ReadTensorInfo(text, typeInfo);
        }
        return result;
    }

    private static TensorInfo ReadTensorInfo(string name, nint typeInfo)
    {
        var api = OrtApi.Instance;
        nint tensorInfo;
        // Borrowed from the type info (not released separately); null for sequences, maps and the like.
        api.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo), "CastTypeInfoToTensorInfo");
        if (tensorInfo == 0)
        {
            return new TensorInfo(name, TensorElementType.Undefined, []);
        }
        var (type, shape) = ReadTypeAndShape(tensorInfo);
        return new TensorInfo(name, type, shape);
    }

    /// <summary>Element type and dimensions of an <c>OrtTensorTypeAndShapeInfo</c>; symbolic dims come back as -1.</summary>
    public static (TensorElementType Type, long[] Shape) ReadTypeAndShape(nint tensorInfo)
    {
        var api = OrtApi.Instance;
        int type;
        api.Check(api.GetTensorElementType(tensorInfo, &type), "GetTensorElementType");
        nuint rank;
        api.Check(api.GetDimensionsCount(tensorInfo, &rank), "GetDimensionsCount");
        var shape = new long[(int)rank];
        fixed (long* dims = shape)
        {
            api.Check(api.GetDimensions(tensorInfo, dims, rank), "GetDimensions");
        }
        return ((TensorElementType)type, shape);
    }

    public static ModelMetadata ReadMetadata(nint session)
    {
        var api = OrtApi.Instance;
        nint metadata;
        api.Check(api.SessionGetModelMetadata(session, &metadata), "SessionGetModelMetadata");
        using var metadataHandle = new OrtModelMetadataHandle(metadata);

        nint producer;
        api.Check(
            api.ModelMetadataGetProducerName(metadata, api.DefaultAllocator, &producer),
            "ModelMetadataGetProducerName"
        );
        var producerName = api.TakeAllocatorString(producer);
        nint graph;
        api.Check(
            api.ModelMetadataGetGraphName(metadata, api.DefaultAllocator, &graph),
            "ModelMetadataGetGraphName"
        );
        var graphName = api.TakeAllocatorString(graph);

        var custom = new Dictionary<string, string>(StringComparer.Ordinal);
        nint* keys;
        long keyCount;
        api.Check(
            api.ModelMetadataGetCustomMetadataMapKeys(metadata, api.DefaultAllocator, &keys, &keyCount),
            "ModelMetadataGetCustomMetadataMapKeys"
        );
        if (keys != null)
        {
            // The key array and every key in it are separate allocations, all ours to free.
            using var keyArray = new OrtAllocatorStringHandle((nint)keys);
            var keyHandles = new OrtAllocatorStringHandle[keyCount];
            for (var i = 0; i < keyCount; i++)
            {
                keyHandles[i] = new OrtAllocatorStringHandle(keys[i]);
            }
            try
            {
                for (var i = 0; i < keyCount; i++)
                {
                    var key = Marshal.PtrToStringUTF8(keys[i]) ?? string.Empty;
                    nint value;
                    api.Check(
                        api.ModelMetadataLookupCustomMetadataMap(
                            metadata,
                            api.DefaultAllocator,
                            (byte*)keys[i],
                            &value
                        ),
                        "ModelMetadataLookupCustomMetadataMap"
                    );
                    custom[key] = value == 0 ? string.Empty : api.TakeAllocatorString(value);
                }
            }
            finally
            {
                foreach (var handle in keyHandles)
                {
                    handle.Dispose();
                }
            }
        }
        return new ModelMetadata(producerName, graphName, custom);
    }
}

internal sealed record ModelMetadata(
    string ProducerName,
    string GraphName,
    IReadOnlyDictionary<string, string> Custom
);
