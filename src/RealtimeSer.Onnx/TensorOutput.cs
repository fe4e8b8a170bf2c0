namespace RealtimeSer.Onnx;

/// <summary>One result of <see cref="OnnxSession.Run"/>, copied out of ORT's memory so it outlives the run.</summary>
public sealed class TensorOutput
{
    internal TensorOutput(
        string name,
        TensorElementType elementType,
        long[] shape,
        float[]? floats,
        long[]? int64s
    )
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
        FloatData = floats;
        Int64Data = int64s;
    }

    public string Name { get; }

    public TensorElementType ElementType { get; }

    public long[] Shape { get; }

    /// <summary>Row-major data when <see cref="ElementType"/> is Float, else null.</summary>
    public float[]? FloatData { get; }

    /// <summary>Row-major data when <see cref="ElementType"/> is Int64, else null.</summary>
    public long[]? Int64Data { get; }

    /// <summary>The float data, or a clear error naming the output when it holds something else.</summary>
    public float[] Floats =>
        FloatData ?? throw new InvalidOperationException($"Output '{Name}' is {ElementType}, not Float.");

    /// <summary>The int64 data, or a clear error naming the output when it holds something else.</summary>
    public long[] Int64s =>
        Int64Data ?? throw new InvalidOperationException($"Output '{Name}' is {ElementType}, not Int64.");

    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Shape)}]";
}
