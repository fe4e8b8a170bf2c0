using System.Collections.Concurrent;

namespace RealtimeSer.Onnx;

/// <summary>
/// The distinct input shapes a session has run. Every new shape costs a GPU session a convolution-algorithm
/// search and new buffers, so serving keeps this set small and declared; benchmarks and /metrics report it.
/// A run adds a hash of its inputs' dimensions (no allocation once a shape is known).
/// </summary>
public sealed class ShapeLog
{
    private readonly ConcurrentDictionary<ulong, string> _shapes = new();

    /// <summary>Distinct input shapes seen so far.</summary>
    public int Count => _shapes.Count;

    /// <summary>Each shape as "[d0,d1];[d0,d1,d2]" (one bracket per input), sorted.</summary>
    public IReadOnlyList<string> Shapes => [.. _shapes.Values.Order(StringComparer.Ordinal)];

    internal void Add(scoped ReadOnlySpan<NamedTensor> inputs)
    {
        var hash = 14695981039346656037UL;
        foreach (var input in inputs)
        {
            hash = (hash ^ (ulong)input.ShapeArray.Length) * 1099511628211UL;
            foreach (var dim in input.ShapeArray)
            {
                hash = (hash ^ (ulong)dim) * 1099511628211UL;
            }
        }
        if (!_shapes.ContainsKey(hash))
        {
            _shapes.TryAdd(hash, Describe(inputs));
        }
    }

    private static string Describe(scoped ReadOnlySpan<NamedTensor> inputs)
    {
        var parts = new string[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            parts[i] = "[" + string.Join(",", inputs[i].ShapeArray) + "]";
        }
        return string.Join(";", parts);
    }
}
