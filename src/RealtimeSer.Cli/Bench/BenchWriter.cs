using System.Globalization;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Bench;

/// <summary>
/// Where every benchmark's results go: progress lines on stderr; the Markdown table and the <c>shapes:</c> line
/// on stdout; <c>bench-NAME.json</c>, <c>.md</c> and, for model and live, <c>.svg</c> in the output folder.
/// Users' scripts, tools/bench/refresh and docs/benchmarks.md read these lines, columns, fields and file names,
/// so they are spelled here once.
/// </summary>
internal sealed class BenchWriter(string dir)
{
    public static void CudaNotMeasured(string why) =>
        Console.Error.WriteLine($"bench: CUDA not measured: {why}");

    public static void ModelPointMeasured(ModelPoint p) =>
        Console.Error.WriteLine(
            $"bench model: {p.Provider} window {p.WindowSeconds} s batch {p.Batch}: p50 {BenchFormat.F(p.P50Ms)} ms, {BenchFormat.F(p.WindowsPerSecond, "0")} windows/s"
        );

    public void Model(ModelResults results)
    {
        var markdown = BenchFormat.Table(
            ["provider", "window s", "batch", "p50 ms", "p95 ms", "windows/s", "audio s per s"],
            results.Points.Select(p =>
                (IReadOnlyList<string>)
                    [
                        p.Provider,
                        BenchFormat.F(p.WindowSeconds, "0.#"),
                        p.Batch.ToString(CultureInfo.InvariantCulture),
                        BenchFormat.F(p.P50Ms),
                        BenchFormat.F(p.P95Ms),
                        BenchFormat.F(p.WindowsPerSecond, "0"),
                        BenchFormat.F(p.AudioSecondsPerSecond, "0"),
                    ]
            )
        );
        Write(
            "bench-model.json",
            BenchFormat.ToJson(
                new
                {
                    machine = Machine(),
                    points = results.Points,
                    shapes = results.Shapes,
                }
            )
        );
        Write("bench-model.md", markdown);
        var chart = Write(
            "bench-model.svg",
            BenchFormat.SvgChart(
                "Model throughput against batch size",
                "batch size",
                "windows per second",
                results
                    .Points.GroupBy(p => (p.Provider, p.WindowSeconds))
                    .Select(g =>
                        (
                            $"{g.Key.Provider} {g.Key.WindowSeconds:0.#} s",
                            (IReadOnlyList<(double, double)>)
                                g.Select(p => ((double)p.Batch, p.WindowsPerSecond)).ToList()
                        )
                    )
                    .ToList(),
                logX: true
            )
        );
        Console.WriteLine(markdown);
        Console.WriteLine(BenchFormat.ShapesLine(results.Shapes));
        Console.Error.WriteLine($"bench: results in {dir} (chart {chart})");
    }

    public void Pipeline(PipelineResult result)
    {
        var markdown = BenchFormat.Table(
            [
                "models",
                "streams",
                "channel-hours",
                "elapsed s",
                "× real time per channel",
                "windows",
                "mean batch",
                "pipeline windows/s",
                "raw windows/s",
                "efficiency",
                "VAD frames/s (raw)",
                "efficiency vs all ONNX work",
                "memory MB baseline / peak / end",
            ],
            [
                [
                    result.Models,
                    result.Streams.ToString(CultureInfo.InvariantCulture),
                    BenchFormat.F(result.ChannelSeconds / 3600, "0.00"),
                    BenchFormat.F(result.ElapsedSeconds),
                    BenchFormat.F(result.XRealtimePerChannel, "0"),
                    result.Windows.ToString(CultureInfo.InvariantCulture),
                    BenchFormat.F(result.MeanBatch),
                    BenchFormat.F(result.PipelineWindowsPerSecond, "0"),
                    BenchFormat.F(result.RawWindowsPerSecond, "0"),
                    BenchFormat.F(result.Efficiency, "0.00"),
                    BenchFormat.F(result.RawVadFramesPerSecond, "0"),
                    BenchFormat.F(result.EfficiencyVsOnnxWork, "0.00"),
                    $"{result.BaselineWorkingSetMb:0} / {result.PeakWorkingSetMb:0} / {result.FinalWorkingSetMb:0}",
                ],
            ]
        );
        Write(
            "bench-pipeline.json",
            BenchFormat.ToJson(
                new
                {
                    machine = Machine(),
                    result,
                    shapes = result.Shapes,
                }
            )
        );
        Write("bench-pipeline.md", markdown);
        Console.WriteLine(markdown);
        Console.WriteLine(BenchFormat.ShapesLine(result.Shapes));
        Console.WriteLine(
            (
                result.ColdElapsedSeconds is { } coldSeconds
                    ? $"timed after an untimed warm-up pass (as the raw figures are); the cold first pass took {BenchFormat.F(coldSeconds, "0.00")} s, {BenchFormat.F(result.ColdXRealtimePerChannel ?? 0, "0")}× real time per channel"
                    : "timed cold (--cold): the process's first pass, compilation included"
            )
                + (
                    result.TimedPassesSeconds.Count > 1
                        ? $"; the best of {result.TimedPassesSeconds.Count} timed passes ({string.Join(" / ", result.TimedPassesSeconds.Select(p => BenchFormat.F(p, "0.000")))} s), as the raw VAD figure is the best of five"
                        : ""
                )
        );
        if (result.Stages is { } split)
        {
            Console.WriteLine(split.Line());
        }
        Console.WriteLine(
            $"efficiency vs the ONNX work these channels allow (VAD batch {result.ReachableVadBatch} on each core): {BenchFormat.F(result.EfficiencyVsReachableOnnxWork, "0.00")}"
        );
    }

    /// <summary>" (VAD batch 64, round 2)" when settings are compared, else nothing.</summary>
    public static string LiveLabel(bool compare, int vadMaxBatch, int round) =>
        compare ? $" (VAD batch {vadMaxBatch}, round {round})" : "";

    public static void LivePointStarting(int streams, TimeSpan duration, string label) =>
        Console.Error.WriteLine($"bench live: {streams} streams for {duration.TotalSeconds:0} s{label}...");

    public static void LivePointMeasured(LivePoint p, string label, bool remote) =>
        Console.Error.WriteLine(
            $"bench live: {p.Streams} streams{label}: p50 {BenchFormat.F(p.P50Ms, "0")} ms, p95 {BenchFormat.F(p.P95Ms, "0")} ms{(remote ? $" (server's own p95 {BenchFormat.F(p.ServerP95Ms, "0")} ms)" : "")}, p99 {BenchFormat.F(p.P99Ms, "0")} ms, dropped {p.WindowsDropped}, shed {100 * p.AudioShedShare:0.0}% of audio, {(p.Refused > 0 ? $"refused {p.Refused}, " : "")}CPU {p.CpuPercent:0}%"
                + (p.VadMeanBatch > 0 ? $", mean VAD batch {p.VadMeanBatch:0.0}" : "")
                + (p.MeetsObjective ? "" : "  (misses the objective)")
        );

    /// <summary>The sweep's check of its capacity: the point at 80 % of it against the latency it should meet.</summary>
    public static void LiveCapacityChecked(int capacity, LivePoint at80, double boundMs) =>
        Console.Error.WriteLine(
            $"bench live: capacity {capacity} streams; at 80 % ({at80.Streams}) p95 {BenchFormat.F(at80.P95Ms, "0")} ms vs hop + batch inference + 50 ms = {boundMs:0} ms: "
                + (at80.P95Ms <= boundMs && at80.WindowsDropped == 0 ? "met" : "NOT met")
        );

    public void Live(LiveResults results)
    {
        var markdown = LiveTable(results) + LiveCapacities(results);
        Write("bench-live.json", BenchFormat.ToJson(LiveJson(results)));
        Write("bench-live.md", markdown);
        if (results.Shapes is not null)
        {
            Console.WriteLine(BenchFormat.ShapesLine(results.Shapes));
        }
        Write("bench-live.svg", LiveChart(results));
        Console.WriteLine(markdown);
    }

    private static string LiveTable(LiveResults results)
    {
        var remote = results.Server is not null;
        var compare = results.Compare;
        return BenchFormat.Table(
            [
                .. compare ? ["VAD batch", "round"] : Array.Empty<string>(),
                "streams",
                "events",
                "p50 ms",
                "p95 ms",
                .. remote ? ["server p95 ms"] : Array.Empty<string>(),
                "p99 ms",
                "max ms",
                "inference p95 ms",
                "mean batch",
                "dropped",
                "audio shed %",
                remote ? "client CPU %" : "CPU %",
                remote ? "client peak MB" : "peak MB",
                $"p95 ≤ {results.ObjectiveP95Ms:0} ms, no drops or shedding",
            ],
            results
                .Points.OrderBy(p => p.VadMaxBatch)
                .ThenBy(p => p.Round)
                .ThenBy(p => p.Streams)
                .Select(p =>
                    (IReadOnlyList<string>)
                        [
                            .. compare ? [$"{p.VadMaxBatch}", $"{p.Round}"] : Array.Empty<string>(),
                            p.Streams.ToString(CultureInfo.InvariantCulture),
                            p.Events.ToString(CultureInfo.InvariantCulture),
                            BenchFormat.F(p.P50Ms, "0"),
                            BenchFormat.F(p.P95Ms, "0"),
                            .. remote ? [BenchFormat.F(p.ServerP95Ms, "0")] : Array.Empty<string>(),
                            BenchFormat.F(p.P99Ms, "0"),
                            BenchFormat.F(p.MaxMs, "0"),
                            BenchFormat.F(p.InferenceP95Ms),
                            BenchFormat.F(p.MeanBatch),
                            p.WindowsDropped.ToString(CultureInfo.InvariantCulture),
                            BenchFormat.F(100 * p.AudioShedShare, "0.0"),
                            BenchFormat.F(p.CpuPercent, "0"),
                            BenchFormat.F(p.PeakWorkingSetMb, "0"),
                            p.MeetsObjective ? "yes" : "no",
                        ]
                )
        );
    }

    /// <summary>What the sweep found, below the table: one capacity, or each setting's when settings are compared.</summary>
    private static string LiveCapacities(LiveResults results)
    {
        if (results.Compare)
        {
            return CapacitySummary(results.Capacities);
        }
        return results.Capacity is { } c
            ? $"\nCapacity (largest stream count meeting the objective with no drops or shedding): **{c}**\n"
            : "";
    }

    /// <summary>Capacity per VAD setting and round, and each setting's mean against the first setting's.</summary>
    internal static string CapacitySummary(IReadOnlyList<LiveCapacity> capacities)
    {
        if (capacities.Count == 0)
        {
            return "";
        }
        var text = new System.Text.StringBuilder(
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

    /// <summary>A server's result names it and has no shapes (it reports its own on /metrics).</summary>
    private static object LiveJson(LiveResults results) =>
        results.Server is null
            ? new
            {
                machine = Machine(),
                objective_p95_ms = results.ObjectiveP95Ms,
                capacity = results.Capacity,
                capacities = results.Capacities,
                points = results.Points,
                shapes = results.Shapes,
            }
            : new
            {
                machine = Machine(),
                server = results.Server,
                objective_p95_ms = results.ObjectiveP95Ms,
                capacity = results.Capacity,
                points = results.Points,
            };

    private static string LiveChart(LiveResults results)
    {
        var ordered = results.Points.OrderBy(p => p.Streams).ToList();
        return BenchFormat.SvgChart(
            "End-to-end latency against concurrent live streams",
            "concurrent streams",
            "latency (ms)",
            results.Compare
                ?
                [
                    .. ordered
                        .GroupBy(p => (p.VadMaxBatch, p.Round))
                        .Select(g =>
                            (
                                $"p95, VAD batch {g.Key.VadMaxBatch}, round {g.Key.Round}",
                                (IReadOnlyList<(double, double)>)
                                    g.Select(p => ((double)p.Streams, p.P95Ms)).ToList()
                            )
                        ),
                ]
                :
                [
                    ("p50", ordered.Select(p => ((double)p.Streams, p.P50Ms)).ToList()),
                    ("p95", ordered.Select(p => ((double)p.Streams, p.P95Ms)).ToList()),
                    ("p99", ordered.Select(p => ((double)p.Streams, p.P99Ms)).ToList()),
                ],
            logX: true
        );
    }

    /// <summary>Writes one result file into the output folder; returns its path.</summary>
    private string Write(string name, string text)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static object Machine() =>
        new
        {
            cores = Environment.ProcessorCount,
            os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            onnxruntime = OnnxRuntime.Version,
            date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        };
}
