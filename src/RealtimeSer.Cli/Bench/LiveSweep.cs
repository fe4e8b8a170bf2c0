using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Cli.Bench;

/// <summary>The capacity one sweep found for one VAD setting in one round.</summary>
internal sealed record LiveCapacity(int VadMaxBatch, int Round, int Streams);

/// <summary>What one point of <c>ser bench live</c> runs against: the in-process engine or a running server.</summary>
internal interface ILiveBench
{
    /// <summary>The server's URL; null in process.</summary>
    string? Server { get; }

    /// <summary>The model's hop, which the latency a sweep's capacity should meet includes.</summary>
    double? HopSeconds { get; }

    /// <summary>The shapes the ONNX sessions ran over every point; null when they are not this process's.</summary>
    SortedDictionary<string, int>? Shapes();

    Task<LivePoint> RunAsync(
        int streams,
        TimeSpan duration,
        EngineOptions options,
        double objectiveP95Ms,
        CancellationToken ct
    );
}

/// <summary>
/// What <c>ser bench live</c> measures: one point of <paramref name="Streams"/>, or with <paramref name="Sweep"/>
/// the capacity; each VAD batch setting in turn, <paramref name="Rounds"/> times, interleaved.
/// </summary>
internal sealed record LiveSettings(
    int Streams,
    bool Sweep,
    int SweepFrom,
    int MaxStreams,
    TimeSpan Duration,
    double ObjectiveP95Ms,
    IReadOnlyList<int> VadMaxBatches,
    int Rounds,
    EngineOptions Engine
)
{
    /// <summary>Settings are compared (the console and table then name each point's setting and round).</summary>
    public bool Compare => VadMaxBatches.Count > 1 || Rounds > 1;
}

/// <summary>Every point measured, and the capacity each sweep found.</summary>
internal sealed record LiveResults(
    string? Server,
    double ObjectiveP95Ms,
    bool Compare,
    IReadOnlyList<LivePoint> Points,
    IReadOnlyList<LiveCapacity> Capacities,
    SortedDictionary<string, int>? Shapes
)
{
    /// <summary>The last sweep's capacity; null without <c>--sweep</c>.</summary>
    public int? Capacity => Capacities.Count > 0 ? Capacities[^1].Streams : null;
}

/// <summary>How <c>ser bench live</c> runs its points, how <c>--sweep</c> finds capacity, and how it compares settings.</summary>
internal static class LiveSweep
{
    public static async Task<LiveResults> RunAsync(
        ILiveBench bench,
        LiveSettings settings,
        CancellationToken ct
    )
    {
        var points = new List<LivePoint>();
        var capacities = new List<LiveCapacity>();
        async Task<LivePoint> Measure(int n, EngineOptions options, int round)
        {
            var label = BenchWriter.LiveLabel(settings.Compare, options.VadMaxBatch, round);
            BenchWriter.LivePointStarting(n, settings.Duration, label);
            var p = await bench.RunAsync(n, settings.Duration, options, settings.ObjectiveP95Ms, ct);
            p = p with { Round = round };
            BenchWriter.LivePointMeasured(p, label, remote: bench.Server is not null);
            points.Add(p);
            return p;
        }
        for (var round = 1; round <= Math.Max(1, settings.Rounds); round++)
        {
            foreach (var variant in settings.VadMaxBatches)
            {
                var options = settings.Engine with { VadMaxBatch = variant };
                if (!settings.Sweep)
                {
                    await Measure(settings.Streams, options, round);
                    continue;
                }
                var good = await FindCapacityAsync(
                    n => Measure(n, options, round),
                    Math.Max(1, settings.SweepFrom),
                    settings.MaxStreams
                );
                capacities.Add(new LiveCapacity(variant, round, good));
                if (good > 0)
                {
                    // Below capacity the latency should be about what one window costs: its hop, one batch's
                    // inference and a little scheduling.
                    var at80 = await Measure(Math.Max(1, (int)(good * 0.8)), options, round);
                    var hopMs = (options.Streams.HopSeconds ?? bench.HopSeconds ?? 0) * 1000;
                    BenchWriter.LiveCapacityChecked(good, at80, hopMs + at80.InferenceP95Ms + 50);
                }
            }
        }
        return new LiveResults(
            bench.Server,
            settings.ObjectiveP95Ms,
            settings.Compare,
            points,
            capacities,
            bench.Shapes()
        );
    }

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
}
