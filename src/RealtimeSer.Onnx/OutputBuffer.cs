namespace RealtimeSer.Onnx;

/// <summary>
/// Where <see cref="OnnxSession.RunInto"/> writes one float output: caller memory of the exact output shape,
/// so a run on the hot path allocates no result arrays and copies nothing afterwards.
/// </summary>
public readonly struct OutputBuffer
{
    public OutputBuffer(string name, Memory<float> destination, ReadOnlySpan<long> shape)
    {
        Name = NamedTensor.Validated(name, destination.Length, shape);
        Destination = destination;
        ShapeArray = shape.ToArray();
    }

    public string Name { get; }

    public Memory<float> Destination { get; }

    internal long[] ShapeArray { get; }

    public override string ToString() => $"{Name}: Float[{string.Join(", ", ShapeArray)}]";
}
