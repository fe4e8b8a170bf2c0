using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace RealtimeSer.Onnx;

/// <summary>
/// One input for <see cref="OnnxSession.Run"/>: a view over caller memory, never copied. The memory is pinned
/// only for the duration of the run and must not change while it runs.
/// </summary>
/// <remarks>
/// A plain struct over <see cref="ReadOnlyMemory{T}"/> rather than a ref struct over spans, because a span of
/// ref structs is not legal C# and Run takes any number of inputs. <c>float[]</c> and <c>long[]</c>
/// convert to the memory types implicitly.
/// </remarks>
public readonly struct NamedTensor
{
    private NamedTensor(
        string name,
        TensorElementType elementType,
        ReadOnlyMemory<float> floats,
        ReadOnlyMemory<long> int64s,
        long[] shape
    )
    {
        Name = name;
        ElementType = elementType;
        FloatData = floats;
        Int64Data = int64s;
        ShapeArray = shape;
    }

    public string Name { get; }

    public TensorElementType ElementType { get; }

    public ReadOnlyMemory<float> FloatData { get; }

    public ReadOnlyMemory<long> Int64Data { get; }

    public IReadOnlyList<long> Shape => ShapeArray;

    internal long[] ShapeArray { get; }

    /// <summary>
    /// An OrtValue over the caller's memory (pinned until the value is disposed). ORT only reads inputs, so
    /// handing it the read-only memory as writable is safe.
    /// </summary>
    internal OrtValue ToOrtValue() =>
        ElementType == TensorElementType.Float
            ? OrtValue.CreateTensorValueFromMemory(
                OrtMemoryInfo.DefaultInstance,
                MemoryMarshal.AsMemory(FloatData),
                ShapeArray
            )
            : OrtValue.CreateTensorValueFromMemory(
                OrtMemoryInfo.DefaultInstance,
                MemoryMarshal.AsMemory(Int64Data),
                ShapeArray
            );

    public static NamedTensor Float(string name, ReadOnlyMemory<float> data, ReadOnlySpan<long> shape) =>
        new(Validated(name, data.Length, shape), TensorElementType.Float, data, default, shape.ToArray());

    public static NamedTensor Int64(string name, ReadOnlyMemory<long> data, ReadOnlySpan<long> shape) =>
        new(Validated(name, data.Length, shape), TensorElementType.Int64, default, data, shape.ToArray());

    /// <summary>A scalar (rank 0) int64, e.g. Silero's "sr" input.</summary>
    public static NamedTensor Int64Scalar(string name, long value) => Int64(name, new[] { value }, []);

    internal static string Validated(string name, int length, ReadOnlySpan<long> shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        long expected = 1;
        foreach (var dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentException(
                    $"Tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape.ToArray())}].",
                    nameof(shape)
                );
            }
            expected *= dim;
        }
        if (expected != length)
        {
            throw new ArgumentException(
                $"Tensor '{name}' has {length} elements but shape [{string.Join(", ", shape.ToArray())}] needs {expected}.",
                nameof(shape)
            );
        }
        return name;
    }

    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Shape)}]";
}
