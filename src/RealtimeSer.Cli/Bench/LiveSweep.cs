using System.Globalization;
using System.Text;

namespace RealtimeSer.Cli.Bench;

/// <summary>The capacity one sweep found for one VAD setting in one round.</summary>
internal sealed record LiveCapacity(int VadMaxBatch, int Round, int Streams);

/// <summary>How <c>ser bench live --sweep</c> finds capacity, and how it compares settings.</summary>
internal static class LiveSweep
{
    /// <summary>
    /// Doubles the stream count from <paramref name="from"/> until a point misses the objective, then bisects
    /// to within an eighth; returns the largest count that met it (0 when none did).
    /// </summary>
    public static async Task<int> FindCapacityAsync(Func<int, Task<LivePoint>> measure, int from, int max)
    {
        int good = 0,
            bad = 0;
        for (var n = from; n <= max; n *= 2)
        {
            if ((await measure(n)).MeetsObjective)
            {
                good = n;
            }
            else
            {
                bad = n;
                break;
            }
        }
        while (bad > 0 && bad - good > Math.Max(1, good / 8))
        {
            var mid = (good + bad) / 2;
            if ((await measure(mid)).MeetsObjective)
            {
                good = mid;
            }
            else
            {
                bad = mid;
            }
        }
        return good;
    }

    /// <summary>Capacity per VAD setting and round, and each setting's mean against the first setting's.</summary>
    public static string Summary(IReadOnlyList<LiveCapacity> capacities)
    {
        if (capacities.Count == 0)
        {
            return "";
        }
        var text = new StringBuilder(
            "\nCapacity (largest stream count meeting the objective with no drops or shedding):\n\n"
        );
        var bySetting = capacities.GroupBy(c => c.VadMaxBatch).ToList();
        var baseline = bySetting[0].Average(c => c.Streams);
        foreach (var setting in bySetting)
        {
            var mean = setting.Average(c => c.Streams);
            text.Append(
                CultureInfo.InvariantCulture,
                $"- VAD batch {setting.Key}: {string.Join(", ", setting.Select(c => c.Streams))} (rounds {string.Join(", ", setting.Select(c => c.Round))}), mean **{mean:0.#}**"
            );
            if (setting.Key != bySetting[0].Key && baseline > 0)
            {
                text.Append(
                    CultureInfo.InvariantCulture,
                    $", **{mean / baseline:0.00}×** VAD batch {bySetting[0].Key}"
                );
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}
