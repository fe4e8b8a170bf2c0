using Microsoft.ML.OnnxRuntime;

namespace RealtimeSer.Onnx;

public sealed partial class OnnxSession
{
    /// <summary>
    /// Runs the model. Inputs are passed to ORT as views of the caller's memory (pinned for the call only);
    /// outputs are copied into new managed arrays. Empty <paramref name="outputNames"/> returns every output,
    /// in model order; otherwise the requested ones in the requested order. For the hot path, where the
    /// caller knows the output shapes, <see cref="RunInto"/> writes into caller memory instead.
    /// </summary>
    /// <exception cref="OnnxException">An unknown or duplicate name, a wrong element type, or ORT rejecting the run.</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public TensorOutput[] Run(
        scoped ReadOnlySpan<NamedTensor> inputs,
        ReadOnlySpan<string> outputNames = default
    )
    {
        var names = ResolveOutputs(outputNames);
        _gate.Enter(this);
        var (inputNames, inputValues) = BindInputs(inputs);
        Shapes.Add(inputs);
        try
        {
            IDisposableReadOnlyCollection<OrtValue> results;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                results = _session.Run(_runOptions, inputNames, inputValues, names);
            }
            catch (OnnxRuntimeException ex)
            {
                throw OrtErrors.Translate(ex, $"Model {Path.GetFileName(ModelPath)}");
            }
            finally
            {
                AddBusy(started);
            }
            using (results)
            {
                var outputs = new TensorOutput[names.Length];
                var i = 0;
                foreach (var value in results)
                {
                    outputs[i] = ReadOutput(names[i], value);
                    i++;
                }
                return outputs;
            }
        }
        finally
        {
            DisposeAll(inputValues);
            _gate.Exit();
        }
    }

    /// <summary>
    /// Runs the model with inputs and outputs both in caller memory: ORT writes each requested output straight
    /// into its <see cref="OutputBuffer"/>, so nothing the size of the data is allocated or copied. Each buffer
    /// must have the exact shape the model produces for these inputs (ORT rejects any other).
    /// </summary>
    /// <exception cref="OnnxException">An unknown or duplicate name, a wrong element type or shape, or ORT rejecting the run.</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public void RunInto(scoped ReadOnlySpan<NamedTensor> inputs, scoped ReadOnlySpan<OutputBuffer> outputs)
    {
        var outputNames = new string[outputs.Length];
        for (var i = 0; i < outputs.Length; i++)
        {
            outputNames[i] = ResolveOutputBuffer(outputs[i], outputs[..i]);
        }
        _gate.Enter(this);
        var (inputNames, inputValues) = BindInputs(inputs);
        Shapes.Add(inputs);
        var outputValues = new OrtValue[outputs.Length];
        try
        {
            for (var i = 0; i < outputs.Length; i++)
            {
                outputValues[i] = OrtValue.CreateTensorValueFromMemory(
                    OrtMemoryInfo.DefaultInstance,
                    outputs[i].Destination,
                    outputs[i].ShapeArray
                );
            }
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                _session.Run(_runOptions, inputNames, inputValues, outputNames, outputValues);
            }
            catch (OnnxRuntimeException ex)
            {
                throw OrtErrors.Translate(ex, $"Model {Path.GetFileName(ModelPath)}");
            }
            finally
            {
                AddBusy(started);
            }
        }
        finally
        {
            DisposeAll(outputValues);
            DisposeAll(inputValues);
            _gate.Exit();
        }
    }

    /// <summary>Checks every input, then wraps each in an OrtValue over its memory; on failure none is left pinned.</summary>
    private (string[] Names, OrtValue[] Values) BindInputs(scoped ReadOnlySpan<NamedTensor> inputs)
    {
        var names = new string[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            names[i] = Inputs[ResolveInput(inputs[i], inputs[..i])].Name;
        }
        var values = new OrtValue[inputs.Length];
        try
        {
            for (var i = 0; i < inputs.Length; i++)
            {
                values[i] = inputs[i].ToOrtValue();
            }
            return (names, values);
        }
        catch (OnnxRuntimeException ex)
        {
            DisposeAll(values);
            throw OrtErrors.Translate(ex, $"Inputs of {Path.GetFileName(ModelPath)}");
        }
        catch
        {
            DisposeAll(values);
            throw;
        }
    }

    private static void DisposeAll(OrtValue[] values)
    {
        foreach (var value in values)
        {
            value?.Dispose();
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

    private string[] ResolveOutputs(ReadOnlySpan<string> requested)
    {
        if (requested.IsEmpty)
        {
            return Outputs.Select(o => o.Name).ToArray();
        }
        var names = new string[requested.Length];
        for (var i = 0; i < requested.Length; i++)
        {
            names[i] = Outputs[OutputIndex(requested[i])].Name;
        }
        return names;
    }

    private string ResolveOutputBuffer(in OutputBuffer output, ReadOnlySpan<OutputBuffer> earlier)
    {
        var info = Outputs[OutputIndex(output.Name)];
        foreach (var other in earlier)
        {
            if (other.Name == output.Name)
            {
                throw new OnnxException(
                    OnnxErrorCode.InvalidArgument,
                    $"Output '{output.Name}' was given twice."
                );
            }
        }
        if (info.ElementType != TensorElementType.Float)
        {
            throw new OnnxException(
                OnnxErrorCode.InvalidArgument,
                $"Output '{output.Name}' of model {Path.GetFileName(ModelPath)} is {info.ElementType}; "
                    + "RunInto writes Float outputs only (Run returns the others)."
            );
        }
        return info.Name;
    }

    private int OutputIndex(string? name)
    {
        if (!_outputIndex.TryGetValue(name ?? string.Empty, out var index))
        {
            throw new OnnxException(
                OnnxErrorCode.InvalidArgument,
                $"Model {Path.GetFileName(ModelPath)} has no output '{name}'; its outputs are: {string.Join(", ", Outputs)}."
            );
        }
        return index;
    }

    private static TensorOutput ReadOutput(string name, OrtValue value)
    {
        if (!value.IsTensor)
        {
            throw new OnnxException(
                OnnxErrorCode.NotImplemented,
                $"Output '{name}' is a {value.OnnxType}; only tensors are supported."
            );
        }
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        var type = (TensorElementType)(int)info.ElementDataType;
        return type switch
        {
            TensorElementType.Float => new TensorOutput(
                name,
                type,
                shape,
                value.GetTensorDataAsSpan<float>().ToArray(),
                null
            ),
            TensorElementType.Int64 => new TensorOutput(
                name,
                type,
                shape,
                null,
                value.GetTensorDataAsSpan<long>().ToArray()
            ),
            _ => throw new OnnxException(
                OnnxErrorCode.NotImplemented,
                $"Output '{name}' is {type}; only Float and Int64 outputs are supported."
            ),
        };
    }
}
