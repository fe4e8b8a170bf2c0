using System.Numerics.Tensors;

namespace RealtimeSer.Core.Ingest;

/// <summary>The check every sanitiser makes before its per-sample pass: is the audio already clean?</summary>
internal static class SampleRange
{
    /// <summary>
    /// True when every sample is a number within [-1, 1]: one vectorised scan, so audio in range (nearly all of
    /// it) skips the per-sample pass. The largest magnitude keeps its sign, hence the Abs; it is NaN when any
    /// sample is, and NaN fails the comparison.
    /// </summary>
    public static bool AllWithinUnit(ReadOnlySpan<float> samples) =>
        samples.IsEmpty || Math.Abs(TensorPrimitives.MaxMagnitude(samples)) <= 1f;
}
