using System.Buffers;
using RealtimeSer.Onnx.Native;

namespace RealtimeSer.Onnx;

public sealed partial class OnnxSession
{
    // Above this many inputs/outputs the scratch arrays move from the stack to the heap.
    private const int StackLimit = 16;

    /// <summary>
    /// Runs the model. Inputs are passed to ORT as views of the caller's memory (pinned for the call only);
    /// outputs are copied into managed arrays. Empty <paramref name="outputNames"/> returns every output,
    /// in model order; otherwise the requested ones in the requested order.
    /// </summary>
    /// <exception cref="OnnxException">An unknown or duplicate name, a wrong element type, or ORT rejecting the run.</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public unsafe TensorOutput[] Run(
        scoped ReadOnlySpan<NamedTensor> inputs,
        ReadOnlySpan<string> outputNames = default
    )
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        var inputCount = inputs.Length;
        var outputCount = outputNames.IsEmpty ? Outputs.Count : outputNames.Length;
        Span<nint> inputNamePtrs =
            inputCount <= StackLimit ? stackalloc nint[inputCount] : new nint[inputCount];
        Span<nint> inputValues =
            inputCount <= StackLimit ? stackalloc nint[inputCount] : new nint[inputCount];
        Span<nint> outputNamePtrs =
            outputCount <= StackLimit ? stackalloc nint[outputCount] : new nint[outputCount];
        Span<nint> outputValues =
            outputCount <= StackLimit ? stackalloc nint[outputCount] : new nint[outputCount];
        Span<int> outputIndices =
            outputCount <= StackLimit ? stackalloc int[outputCount] : new int[outputCount];
        inputValues.Clear();
        outputValues.Clear();

        var api = OrtApi.Instance;
        var pins = ArrayPool<MemoryHandle>.Shared.Rent(inputCount);
        var inputHandles = new OrtValueHandle?[inputCount];
        var sessionRef = false;
        var inputNamesRef = false;
        var outputNamesRef = false;
        try
        {
            // Held for the whole call so that a concurrent Dispose cannot free what ORT is still using;
            // a handle already closed throws ObjectDisposedException here.
            _session.DangerousAddRef(ref sessionRef);
            _inputNames.DangerousAddRef(ref inputNamesRef);
            _outputNames.DangerousAddRef(ref outputNamesRef);

            ResolveOutputs(outputNames, outputIndices, outputNamePtrs);
            var memoryInfo = OnnxRuntime.CpuMemory.DangerousGetHandle();
            for (var i = 0; i < inputCount; i++)
            {
                ref readonly var input = ref inputs[i];
                var index = ResolveInput(input, inputs[..i]);
                inputNamePtrs[i] = _inputNames.Table[index];
                pins[i] =
                    input.ElementType == TensorElementType.Float
                        ? input.FloatData.Pin()
                        : input.Int64Data.Pin();
                var shape = input.ShapeArray;
                nint value;
                nint status;
                fixed (long* dims = shape)
                {
                    status = api.CreateTensorWithDataAsOrtValue(
                        memoryInfo,
                        pins[i].Pointer,
                        (nuint)((long)input.ElementCount * input.ElementSize),
                        dims,
                        (nuint)shape.Length,
                        (int)input.ElementType,
                        &value
                    );
                }
                // The context string is built only on failure: Run allocates no strings when it succeeds.
                if (status != 0)
                {
                    api.Check(
                        status,
                        "CreateTensorWithDataAsOrtValue",
                        $"Input '{input.Name}' of {Path.GetFileName(ModelPath)}"
                    );
                }
                inputHandles[i] = new OrtValueHandle(value);
                inputValues[i] = value;
            }

            nint runStatus;
            fixed (nint* inNames = inputNamePtrs)
            fixed (nint* inValues = inputValues)
            fixed (nint* outNames = outputNamePtrs)
            fixed (nint* outValues = outputValues)
            {
                runStatus = api.Run(
                    _session.DangerousGetHandle(),
                    0,
                    inNames,
                    inValues,
                    (nuint)inputCount,
                    outNames,
                    (nuint)outputCount,
                    outValues
                );
            }
            // Own whatever ORT produced before looking at the status, so nothing leaks on either path.
            var outputHandles = new OrtValueHandle[outputCount];
            for (var i = 0; i < outputCount; i++)
            {
                outputHandles[i] = new OrtValueHandle(outputValues[i]);
            }
            try
            {
                if (runStatus != 0)
                {
                    api.Check(runStatus, "Run", $"Model {Path.GetFileName(ModelPath)}");
                }
                var results = new TensorOutput[outputCount];
                for (var i = 0; i < outputCount; i++)
                {
                    results[i] = ReadOutput(Outputs[outputIndices[i]].Name, outputValues[i]);
                }
                return results;
            }
            finally
            {
                foreach (var handle in outputHandles)
                {
                    handle.Dispose();
                }
            }
        }
        finally
        {
            for (var i = 0; i < inputCount; i++)
            {
                inputHandles[i]?.Dispose();
                pins[i].Dispose();
            }
            ArrayPool<MemoryHandle>.Shared.Return(pins, clearArray: true);
            if (outputNamesRef)
            {
                _outputNames.DangerousRelease();
            }
            if (inputNamesRef)
            {
                _inputNames.DangerousRelease();
            }
            if (sessionRef)
            {
                _session.DangerousRelease();
            }
        }
    }

    private int ResolveInput(in NamedTensor input, ReadOnlySpan<NamedTensor> earlier)
    {
        if (input.Name is null)
        {
            throw new OnnxException(
                OnnxErrorCode.InvalidArgument,
                "An input NamedTensor was default-initialized."
            );
        }
        if (!_inputIndex.TryGetValue(input.Name, out var index))
        {
            throw new OnnxException(
                OnnxErrorCode.InvalidArgument,
                $"Model {Path.GetFileName(ModelPath)} has no input '{input.Name}'; its inputs are: {string.Join(", ", Inputs)}."
            );
        }
        foreach (var other in earlier)
        {
            if (other.Name == input.Name)
            {
                throw new OnnxException(
                    OnnxErrorCode.InvalidArgument,
                    $"Input '{input.Name}' was given twice."
                );
            }
        }
        var declared = Inputs[index].ElementType;
        if (declared != input.ElementType)
        {
            throw new OnnxException(
                OnnxErrorCode.InvalidArgument,
                $"Input '{input.Name}' of model {Path.GetFileName(ModelPath)} expects {declared}, got {input.ElementType}."
            );
        }
        return index;
    }

    private unsafe void ResolveOutputs(ReadOnlySpan<string> requested, Span<int> indices, Span<nint> namePtrs)
    {
        if (requested.IsEmpty)
        {
            for (var i = 0; i < indices.Length; i++)
            {
                indices[i] = i;
                namePtrs[i] = _outputNames.Table[i];
            }
            return;
        }
        for (var i = 0; i < requested.Length; i++)
        {
            if (!_outputIndex.TryGetValue(requested[i] ?? string.Empty, out var index))
            {
                throw new OnnxException(
                    OnnxErrorCode.InvalidArgument,
                    $"Model {Path.GetFileName(ModelPath)} has no output '{requested[i]}'; its outputs are: {string.Join(", ", Outputs)}."
                );
            }
            indices[i] = index;
            namePtrs[i] = _outputNames.Table[index];
        }
    }

    private static unsafe TensorOutput ReadOutput(string name, nint value)
    {
        var api = OrtApi.Instance;
        nint info;
        CheckOutput(api.GetTensorTypeAndShape(value, &info), "GetTensorTypeAndShape", name);
        using var infoHandle = new OrtTensorTypeAndShapeInfoHandle(info);
        var (type, shape) = SessionIntrospection.ReadTypeAndShape(info);
        nuint count;
        CheckOutput(api.GetTensorShapeElementCount(info, &count), "GetTensorShapeElementCount", name);

        void* data = null;
        if (count > 0)
        {
            CheckOutput(api.GetTensorMutableData(value, &data), "GetTensorMutableData", name);
        }
        switch (type)
        {
            case TensorElementType.Float:
            {
                var floats = new float[(int)count];
                new ReadOnlySpan<float>(data, (int)count).CopyTo(floats);
                return new TensorOutput(name, type, shape, floats, null);
            }
            case TensorElementType.Int64:
            {
                var int64s = new long[(int)count];
                new ReadOnlySpan<long>(data, (int)count).CopyTo(int64s);
                return new TensorOutput(name, type, shape, null, int64s);
            }
            default:
                throw new OnnxException(
                    OnnxErrorCode.NotImplemented,
                    $"Output '{name}' is {type}; only Float and Int64 outputs are supported."
                );
        }
    }

    // Formats the context only on failure, keeping the success path free of string allocations.
    private static void CheckOutput(nint status, string operation, string outputName)
    {
        if (status != 0)
        {
            OrtApi.Instance.Check(status, operation, $"Output '{outputName}'");
        }
    }
}
