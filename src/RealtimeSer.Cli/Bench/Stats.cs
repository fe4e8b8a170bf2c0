namespace RealtimeSer.Cli.Bench;

internal static class Stats
{
    /// <summary>Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
