namespace RealtimeSer.Onnx;

/// <summary>A model input or output as declared in the graph; dynamic dimensions are -1.</summary>
public sealed record TensorInfo(string Name, TensorElementType ElementType, IReadOnlyList<long> Shape)
{
    // Compares the shape by value so that callers can check a model against an expected signature with ==.
    public bool Equals(TensorInfo? other) =>
        other is not null
        && Name == other.Name
        && ElementType == other.ElementType
        && Shape.SequenceEqual(other.Shape);

    public override int GetHashCode() => HashCode.Combine(Name, ElementType, Shape.Count);

    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Shape)}]";
}
