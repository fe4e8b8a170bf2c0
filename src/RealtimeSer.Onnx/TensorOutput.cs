namespace RealtimeSer.Onnx;

/// <summary>One result of <see cref="OnnxSession.Run"/>, copied out of ORT's memory so it outlives the run.</summary>
/// <param name="Name">The output's name in the graph.</param>
/// <param name="ElementType">What its data holds.</param>
/// <param name="Shape">Its dimensions.</param>
/// <param name="FloatData">Row-major data when <paramref name="ElementType"/> is Float, else null.</param>
/// <param name="Int64Data">Row-major data when <paramref name="ElementType"/> is Int64, else null.</param>
public sealed record TensorOutput(
    string Name,
    TensorElementType ElementType,
    long[] Shape,
    float[]? FloatData,
    long[]? Int64Data
)
{
    /// <summary>The float data, or a clear error naming the output when it holds something else.</summary>
    public float[] Floats =>
        FloatData ?? throw new InvalidOperationException($"Output '{Name}' is {ElementType}, not Float.");

    /// <summary>The int64 data, or a clear error naming the output when it holds something else.</summary>
    public long[] Int64s =>
        Int64Data ?? throw new InvalidOperationException($"Output '{Name}' is {ElementType}, not Int64.");

    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Shape)}]";
}
