using System.Numerics;

namespace RealtimeSer.Core.Inference;

/// <summary>
/// The input shapes a model session is run with: a small, declared set, whatever batch sizes and window lengths
/// the traffic brings. Batches take power-of-two sizes up to <see cref="MaxBatch"/>. Two ways to get there:
/// <list type="bullet">
/// <item><b>Split</b> (the CPU): a batch runs as power-of-two pieces (13 = 8 + 4 + 1) at the windows' own
/// length. No work is wasted and no result changes; a CPU session pays nothing per new shape, so lengths stay
/// as they are.</item>
/// <item><b>Pad</b> (CUDA): a batch is padded with silent windows up to the next power of two, and each window
/// with silence up to its length bucket (<see cref="Lengths"/>), so a GPU session sees only the shapes it was
/// warmed up with. Padding rows cost GPU time that is nearly free at these sizes; padding a window with
/// silence changes its result as padding does (measured in ShapePlanTests).</item>
/// </list>
/// </summary>
public sealed class ShapePlan
{
    /// <summary>The largest batch a session is run with; larger batches run as several.</summary>
    public const int MaxBatch = 64;

    private readonly int[] _lengths;

    /// <param name="pad">Pad to the buckets (GPU) rather than split (CPU).</param>
    /// <param name="minSamples">The model's shortest window.</param>
    /// <param name="windowSamples">The model's recommended window.</param>
    /// <param name="longestSamples">The longest input anything sends (whole clips).</param>
    public ShapePlan(bool pad, int minSamples, int windowSamples, int longestSamples)
    {
        Pad = pad;
        _lengths = Buckets(minSamples, windowSamples, longestSamples);
    }

    public bool Pad { get; }

    /// <summary>
    /// Length buckets when padding: four equal steps from the shortest to the recommended window, then
    /// doublings of the recommended window up to the longest input.
    /// </summary>
    public IReadOnlyList<int> Lengths => _lengths;

    /// <summary>Batch sizes a session may see.</summary>
    public static IEnumerable<int> Batches()
    {
        for (var b = 1; b <= MaxBatch; b *= 2)
        {
            yield return b;
        }
    }

    /// <summary>The power-of-two pieces a batch of <paramref name="count"/> runs as, largest first.</summary>
    public static IEnumerable<(int Start, int Count)> Pieces(int count)
    {
        var start = 0;
        while (start < count)
        {
            var piece = 1 << BitOperations.Log2((uint)Math.Min(count - start, MaxBatch));
            yield return (start, piece);
            start += piece;
        }
    }

    /// <summary>
    /// The pieces of at most <see cref="MaxBatch"/> a batch of <paramref name="count"/> runs as when padding: one
    /// run padded up to a power of two costs a GPU less than the power-of-two pieces the CPU splits it into.
    /// </summary>
    public static IEnumerable<(int Start, int Count)> Chunks(int count)
    {
        for (var start = 0; start < count; start += MaxBatch)
        {
            yield return (start, Math.Min(MaxBatch, count - start));
        }
    }

    /// <summary>The padded batch for up to <see cref="MaxBatch"/> windows.</summary>
    public static int PaddedBatch(int count) =>
        (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(count, 1, MaxBatch));

    /// <summary>The length a window of <paramref name="samples"/> is padded to (itself beyond the last bucket).</summary>
    public int PaddedLength(int samples)
    {
        foreach (var bucket in _lengths)
        {
            if (bucket >= samples)
            {
                return bucket;
            }
        }
        return samples;
    }

    private static int[] Buckets(int min, int window, int longest)
    {
        min = Math.Clamp(min, 1, window);
        var buckets = new SortedSet<int>();
        for (var i = 0; i <= 4; i++)
        {
            buckets.Add(min + (int)((long)(window - min) * i / 4));
        }
        for (var length = (long)window * 2; length < longest * 2L && length <= int.MaxValue; length *= 2)
        {
            buckets.Add((int)Math.Min(length, Math.Max(longest, window)));
        }
        return [.. buckets];
    }
}
