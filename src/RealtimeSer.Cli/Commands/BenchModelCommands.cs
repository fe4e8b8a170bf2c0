using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using RealtimeSer.Cli.Bench;
using RealtimeSer.Core;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench model|pipeline|live</c>: the numbers call-centre buyers ask for.</summary>
internal static class BenchModelCommands
{
    private static Option<string> OutOption() =>
        new("--out", "-o")
        {
            Description = "Folder for the JSON, Markdown and SVG results.",
            DefaultValueFactory = _ =>
                Path.Combine(ModelLocator.RepositoryRoots().FirstOrDefault() ?? ".", ".cache", "bench"),
        };

    private static Option<int> VadMaxBatchOption() =>
        new("--vad-max-batch")
        {
            Description =
                "Most VAD frames (of all streams and channels) per Silero run; 0: one run per frame.",
            DefaultValueFactory = _ => VadBatcher.DefaultMaxBatch,
        };

    private static Argument<string[]> RecordingsArgument() =>
        new("recording")
        {
            Arity = ArgumentArity.ZeroOrMore,
            Description = "Recordings (default: ../shared/data/fixtures/calls/call01_stereo16k.wav).",
        };

    public static Command CreateModel()
    {
        var batches = new Option<string>("--batches") { DefaultValueFactory = _ => "1,2,4,8,16,32,64" };
        var windows = new Option<string>("--windows")
        {
            Description = "Window seconds.",
            DefaultValueFactory = _ => "1,2,3",
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Time per point.",
            DefaultValueFactory = _ => 2,
        };
        var output = OutOption();
        var model = new ModelOptions();
        var command = new Command(
            "model",
            "Raw ONNX Runtime latency and throughput per batch size and window length."
        )
        {
            batches,
            windows,
            seconds,
            output,
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    var points = new List<ModelPoint>();
                    var providers = new List<(string Name, ExecutionProviderKind Kind)>
                    {
                        ("CPU", ExecutionProviderKind.Cpu),
                    };
                    if (OnnxRuntime.HasCuda)
                    {
                        providers.Add(("CUDA", ExecutionProviderKind.Cuda));
                    }
                    else
                    {
                        Console.Error.WriteLine(
                            $"bench: CUDA not measured: {OnnxRuntime.CudaUnavailableReason}"
                        );
                    }
                    var shapes = new SortedDictionary<string, int>(StringComparer.Ordinal);
                    foreach (var (name, kind) in providers)
                    {
                        using var classifier = model.Load(parse, kind);
                        foreach (var w in Doubles(parse.GetValue(windows)!))
                        {
                            foreach (var b in Doubles(parse.GetValue(batches)!).Select(d => (int)d))
                            {
                                ct.ThrowIfCancellationRequested();
                                var point = ModelBench.Measure(
                                    classifier,
                                    name,
                                    w,
                                    b,
                                    TimeSpan.FromSeconds(parse.GetValue(seconds))
                                );
                                Console.Error.WriteLine(
                                    $"bench model: {name} window {w} s batch {b}: p50 {BenchReport.F(point.P50Ms)} ms, {BenchReport.F(point.WindowsPerSecond, "0")} windows/s"
                                );
                                points.Add(point);
                            }
                        }
                        foreach (var (session, count) in BenchReport.Shapes(classifier.Sessions))
                        {
                            shapes[providers.Count > 1 ? $"{session}@{name}" : session] = count;
                        }
                    }
                    var dir = parse.GetValue(output)!;
                    var markdown = BenchReport.Table(
                        ["provider", "window s", "batch", "p50 ms", "p95 ms", "windows/s", "audio s per s"],
                        points.Select(p =>
                            (IReadOnlyList<string>)
                                [
                                    p.Provider,
                                    BenchReport.F(p.WindowSeconds, "0.#"),
                                    p.Batch.ToString(CultureInfo.InvariantCulture),
                                    BenchReport.F(p.P50Ms),
                                    BenchReport.F(p.P95Ms),
                                    BenchReport.F(p.WindowsPerSecond, "0"),
                                    BenchReport.F(p.AudioSecondsPerSecond, "0"),
                                ]
                        )
                    );
                    BenchReport.WriteJson(
                        dir,
                        "bench-model",
                        new
                        {
                            machine = Machine(),
                            points,
                            shapes,
                        }
                    );
                    BenchReport.WriteMarkdown(dir, "bench-model", markdown);
                    var chart = BenchReport.WriteSvgChart(
                        dir,
                        "bench-model",
                        "Model throughput against batch size",
                        "batch size",
                        "windows per second",
                        points
                            .GroupBy(p => (p.Provider, p.WindowSeconds))
                            .Select(g =>
                                (
                                    $"{g.Key.Provider} {g.Key.WindowSeconds:0.#} s",
                                    (IReadOnlyList<(double, double)>)
                                        g.Select(p => ((double)p.Batch, p.WindowsPerSecond)).ToList()
                                )
                            )
                            .ToList(),
                        logX: true
                    );
                    Console.WriteLine(markdown);
                    Console.WriteLine(BenchReport.ShapesLine(shapes));
                    Console.Error.WriteLine($"bench: results in {dir} (chart {chart})");
                    return 0;
                })
        );
        return command;
    }

    public static Command CreatePipeline()
    {
        var recordings = RecordingsArgument();
        var hours = new Option<double>("--hours")
        {
            Description = "Loop each recording to this many hours (0: once).",
            DefaultValueFactory = _ => 0,
        };
        var copies = new Option<int>("--copies")
        {
            Description = "Streams per recording, replayed in parallel.",
            DefaultValueFactory = _ => 4,
        };
        var jobs = new Option<int>("-j", "--jobs")
        {
            DefaultValueFactory = _ => Environment.ProcessorCount * 2,
        };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16 };
        var vadMaxBatch = VadMaxBatchOption();
        var output = OutOption();
        var model = new ModelOptions();
        var command = new Command(
            "pipeline",
            "Replay throughput and its efficiency against raw model throughput on the same windows."
        )
        {
            recordings,
            hours,
            copies,
            jobs,
            batch,
            vadMaxBatch,
            output,
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    using var classifiers = model.LoadAll(parse);
                    using var vad = SileroVadModel.Load();
                    var audio = new List<(float[], int, int)>();
                    var decoding = Stopwatch.StartNew();
                    foreach (var path in Recordings(parse.GetValue(recordings)))
                    {
                        var loaded = await PipelineBench.LoadAsync(path, ct);
                        audio.AddRange(Enumerable.Repeat(loaded, Math.Max(1, parse.GetValue(copies))));
                    }
                    var result = await PipelineBench.RunAsync(
                        classifiers.Classifiers,
                        vad,
                        audio,
                        // Each recording is decoded once and its copies share it: the decode a replay of all of
                        // them would do is that many times this.
                        decoding.Elapsed.TotalSeconds * Math.Max(1, parse.GetValue(copies)),
                        parse.GetValue(hours) * 3600,
                        parse.GetValue(jobs),
                        new EngineOptions
                        {
                            MaxBatch = parse.GetValue(batch),
                            QueueCapacity = 4 * parse.GetValue(batch),
                            VadMaxBatch = parse.GetValue(vadMaxBatch),
                        },
                        line => Console.Error.WriteLine(line),
                        ct
                    );
                    var dir = parse.GetValue(output)!;
                    var markdown = BenchReport.Table(
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
                                BenchReport.F(result.ChannelSeconds / 3600, "0.00"),
                                BenchReport.F(result.ElapsedSeconds),
                                BenchReport.F(result.XRealtimePerChannel, "0"),
                                result.Windows.ToString(CultureInfo.InvariantCulture),
                                BenchReport.F(result.MeanBatch),
                                BenchReport.F(result.PipelineWindowsPerSecond, "0"),
                                BenchReport.F(result.RawWindowsPerSecond, "0"),
                                BenchReport.F(result.Efficiency, "0.00"),
                                BenchReport.F(result.RawVadFramesPerSecond, "0"),
                                BenchReport.F(result.EfficiencyVsOnnxWork, "0.00"),
                                $"{result.BaselineWorkingSetMb:0} / {result.PeakWorkingSetMb:0} / {result.FinalWorkingSetMb:0}",
                            ],
                        ]
                    );
                    BenchReport.WriteJson(
                        dir,
                        "bench-pipeline",
                        new
                        {
                            machine = Machine(),
                            result,
                            shapes = result.Shapes,
                        }
                    );
                    BenchReport.WriteMarkdown(dir, "bench-pipeline", markdown);
                    Console.WriteLine(markdown);
                    Console.WriteLine(BenchReport.ShapesLine(result.Shapes));
                    if (result.Stages is { } split)
                    {
                        Console.WriteLine(split.Line());
                    }
                    Console.WriteLine(
                        $"efficiency vs the ONNX work these channels allow (VAD batch {result.ReachableVadBatch} on each core): {BenchReport.F(result.EfficiencyVsReachableOnnxWork, "0.00")}"
                    );
                    return 0;
                })
        );
        return command;
    }

    public static Command CreateLive()
    {
        var recordings = RecordingsArgument();
        var streams = new Option<int>("--streams")
        {
            Description = "Concurrent streams (one point).",
            DefaultValueFactory = _ => 4,
        };
        var sweep = new Option<bool>("--sweep")
        {
            Description = "Find the largest stream count that meets the objective with no drops.",
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Duration of each point.",
            DefaultValueFactory = _ => 20,
        };
        var objective = new Option<double>("--objective-ms")
        {
            Description = "p95 end-to-end latency objective.",
            DefaultValueFactory = _ => 500,
        };
        var maxStreams = new Option<int>("--max-streams") { DefaultValueFactory = _ => 512 };
        var maxBacklog = new Option<double>("--max-backlog-ms")
        {
            Description =
                "Live streams skip their oldest audio when more than this waits for the VAD (0: never; the engine's default 400).",
            DefaultValueFactory = _ => 400,
        };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16 };
        var vadMaxBatch = new Option<string>("--vad-max-batch")
        {
            Description =
                "Most VAD frames per Silero run (0: one run per frame, as before batching); several, comma-separated "
                + "(e.g. 0,64), are measured in turn, --rounds times, interleaved (A B A B) so both see the same load.",
            DefaultValueFactory = _ => VadBatcher.DefaultMaxBatch.ToString(CultureInfo.InvariantCulture),
        };
        var rounds = new Option<int>("--rounds")
        {
            Description = "Repeat the --vad-max-batch variants this many times, interleaved.",
            DefaultValueFactory = _ => 1,
        };
        var sweepFrom = new Option<int>("--sweep-from")
        {
            Description = "The sweep's first stream count (it doubles from there, then bisects).",
            DefaultValueFactory = _ => 1,
        };
        var server = new Option<string?>("--server")
        {
            Description =
                "Measure a running `ser serve` (URL) instead of an in-process engine: the same paced streams over gRPC; latency includes the network.",
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "With --server: sent as authorization: Bearer <key>.",
        };
        var output = OutOption();
        var model = new ModelOptions();
        var command = new Command(
            "live",
            "Concurrent live streams paced at real time: latency percentiles, drops, CPU, memory."
        )
        {
            recordings,
            streams,
            sweep,
            seconds,
            objective,
            maxStreams,
            batch,
            server,
            apiKey,
            output,
            maxBacklog,
            vadMaxBatch,
            rounds,
            sweepFrom,
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    var serverUrl = parse.GetValue(server);
                    var audio = await PipelineBench.LoadAsync(Recordings(parse.GetValue(recordings))[0], ct);
                    var duration = TimeSpan.FromSeconds(parse.GetValue(seconds));
                    var slo = parse.GetValue(objective);
                    using var channel = serverUrl is null
                        ? null
                        : new SerChannel(new Uri(serverUrl), parse.GetValue(apiKey));
                    var remote = channel?.Recognizer;
                    var remoteModel = parse.GetValue(model.Model) ?? "";
                    double? remoteHop = null;
                    if (remote is not null)
                    {
                        if (audio.Channels is not (1 or 2))
                        {
                            throw new ArgumentException(
                                $"the server takes 1 or 2 channels; this recording has {audio.Channels}."
                            );
                        }
                        try
                        {
                            var models = await remote.ListModelsAsync(
                                new ListModelsRequest(),
                                cancellationToken: ct
                            );
                            remoteHop = models
                                .Models.FirstOrDefault(m =>
                                    remoteModel.Length == 0 ? m.IsDefault : m.Id == remoteModel
                                )
                                ?.RecommendedHopSeconds;
                        }
                        catch (Exception e) when (e is RpcException or HttpRequestException)
                        {
                            await Console.Error.WriteLineAsync(
                                $"ser: error: cannot use the server at {serverUrl}: {(e is RpcException g ? $"{g.StatusCode}: {g.Status.Detail}" : e.Message)}"
                            );
                            return CliErrors.Failure;
                        }
                    }
                    using var classifier = remote is null ? model.Load(parse) : null;
                    using var vad = remote is null ? SileroVadModel.Load() : null;
                    var baseOptions = new EngineOptions
                    {
                        MaxBatch = parse.GetValue(batch),
                        QueueCapacity = 64 * parse.GetValue(batch),
                        MaxBatchDelay = TimeSpan.FromMilliseconds(10),
                        MaxBacklogSeconds = Math.Max(0, parse.GetValue(maxBacklog)) / 1000,
                    };
                    var variants = Doubles(parse.GetValue(vadMaxBatch)!).Select(d => (int)d).ToArray();
                    var compare = variants.Length > 1 || parse.GetValue(rounds) > 1;
                    var points = new List<LivePoint>();
                    var capacities = new List<LiveCapacity>();
                    async Task<LivePoint> Measure(int n, EngineOptions options, int round)
                    {
                        var label = compare ? $" (VAD batch {options.VadMaxBatch}, round {round})" : "";
                        Console.Error.WriteLine(
                            $"bench live: {n} streams for {duration.TotalSeconds:0} s{label}..."
                        );
                        var p = remote is not null
                            ? await RemoteLiveBench.RunAsync(remote, remoteModel, audio, n, duration, slo, ct)
                            : await LiveBench.RunAsync(
                                classifier!,
                                vad!,
                                audio,
                                n,
                                duration,
                                options,
                                slo,
                                ct
                            );
                        p = p with
                        {
                            VadMaxBatch = remote is null ? options.VadMaxBatch : null,
                            Round = round,
                        };
                        Console.Error.WriteLine(
                            $"bench live: {n} streams{label}: p50 {BenchReport.F(p.P50Ms, "0")} ms, p95 {BenchReport.F(p.P95Ms, "0")} ms{(remote is null ? "" : $" (server's own p95 {BenchReport.F(p.ServerP95Ms, "0")} ms)")}, p99 {BenchReport.F(p.P99Ms, "0")} ms, dropped {p.WindowsDropped}, shed {100 * p.AudioShedShare:0.0}% of audio, {(p.Refused > 0 ? $"refused {p.Refused}, " : "")}CPU {p.CpuPercent:0}%"
                                + (p.VadMeanBatch > 0 ? $", mean VAD batch {p.VadMeanBatch:0.0}" : "")
                                + (p.MeetsObjective ? "" : "  (misses the objective)")
                        );
                        points.Add(p);
                        return p;
                    }
                    for (var round = 1; round <= Math.Max(1, parse.GetValue(rounds)); round++)
                    {
                        foreach (var variant in variants)
                        {
                            var options = baseOptions with { VadMaxBatch = variant };
                            if (!parse.GetValue(sweep))
                            {
                                await Measure(parse.GetValue(streams), options, round);
                                continue;
                            }
                            var good = await LiveSweep.FindCapacityAsync(
                                n => Measure(n, options, round),
                                Math.Max(1, parse.GetValue(sweepFrom)),
                                parse.GetValue(maxStreams)
                            );
                            capacities.Add(new LiveCapacity(variant, round, good));
                            if (good > 0)
                            {
                                var at80 = await Measure(Math.Max(1, (int)(good * 0.8)), options, round);
                                var hopMs =
                                    (
                                        options.HopSeconds
                                        ?? remoteHop
                                        ?? classifier?.Manifest.RecommendedHopSeconds
                                        ?? 0
                                    ) * 1000;
                                var bound = hopMs + at80.InferenceP95Ms + 50;
                                Console.Error.WriteLine(
                                    $"bench live: capacity {good} streams; at 80 % ({at80.Streams}) p95 {BenchReport.F(at80.P95Ms, "0")} ms vs hop + batch inference + 50 ms = {bound:0} ms: "
                                        + (
                                            at80.P95Ms <= bound && at80.WindowsDropped == 0
                                                ? "met"
                                                : "NOT met"
                                        )
                                );
                            }
                        }
                    }
                    int? capacity = capacities.Count > 0 ? capacities[^1].Streams : null;
                    // The in-process engine's sessions over every point (a server reports its own on /metrics).
                    var shapes = remote is null
                        ? BenchReport.Shapes([vad!.Session, .. classifier!.Sessions])
                        : null;
                    var dir = parse.GetValue(output)!;
                    var markdown =
                        BenchReport.Table(
                            [
                                .. compare ? ["VAD batch", "round"] : Array.Empty<string>(),
                                "streams",
                                "events",
                                "p50 ms",
                                "p95 ms",
                                .. remote is null ? Array.Empty<string>() : ["server p95 ms"],
                                "p99 ms",
                                "max ms",
                                "inference p95 ms",
                                "mean batch",
                                "dropped",
                                "audio shed %",
                                remote is null ? "CPU %" : "client CPU %",
                                remote is null ? "peak MB" : "client peak MB",
                                $"p95 ≤ {slo:0} ms, no drops or shedding",
                            ],
                            points
                                .OrderBy(p => p.VadMaxBatch)
                                .ThenBy(p => p.Round)
                                .ThenBy(p => p.Streams)
                                .Select(p =>
                                    (IReadOnlyList<string>)
                                        [
                                            .. compare
                                                ? [$"{p.VadMaxBatch}", $"{p.Round}"]
                                                : Array.Empty<string>(),
                                            p.Streams.ToString(CultureInfo.InvariantCulture),
                                            p.Events.ToString(CultureInfo.InvariantCulture),
                                            BenchReport.F(p.P50Ms, "0"),
                                            BenchReport.F(p.P95Ms, "0"),
                                            .. remote is null
                                                ? Array.Empty<string>()
                                                : [BenchReport.F(p.ServerP95Ms, "0")],
                                            BenchReport.F(p.P99Ms, "0"),
                                            BenchReport.F(p.MaxMs, "0"),
                                            BenchReport.F(p.InferenceP95Ms),
                                            BenchReport.F(p.MeanBatch),
                                            p.WindowsDropped.ToString(CultureInfo.InvariantCulture),
                                            BenchReport.F(100 * p.AudioShedShare, "0.0"),
                                            BenchReport.F(p.CpuPercent, "0"),
                                            BenchReport.F(p.PeakWorkingSetMb, "0"),
                                            p.MeetsObjective ? "yes" : "no",
                                        ]
                                )
                        )
                        + (
                            compare ? LiveSweep.Summary(capacities)
                            : capacity is { } c
                                ? $"\nCapacity (largest stream count meeting the objective with no drops or shedding): **{c}**\n"
                            : ""
                        );
                    BenchReport.WriteJson(
                        dir,
                        "bench-live",
                        remote is null
                            ? new
                            {
                                machine = Machine(),
                                objective_p95_ms = slo,
                                capacity,
                                capacities,
                                points,
                                shapes,
                            }
                            : (object)
                                new
                                {
                                    machine = Machine(),
                                    server = serverUrl,
                                    objective_p95_ms = slo,
                                    capacity,
                                    points,
                                }
                    );
                    BenchReport.WriteMarkdown(dir, "bench-live", markdown);
                    if (shapes is not null)
                    {
                        Console.WriteLine(BenchReport.ShapesLine(shapes));
                    }
                    var ordered = points.OrderBy(p => p.Streams).ToList();
                    BenchReport.WriteSvgChart(
                        dir,
                        "bench-live",
                        "End-to-end latency against concurrent live streams",
                        "concurrent streams",
                        "latency (ms)",
                        compare
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
                    Console.WriteLine(markdown);
                    return 0;
                })
        );
        return command;
    }

    private static IReadOnlyList<string> Recordings(string[]? given)
    {
        if (given is { Length: > 0 })
        {
            return given;
        }
        var fixture = ModelLocator
            .RepositoryRoots()
            .Select(r =>
                Path.GetFullPath(
                    Path.Combine(r, "..", "shared", "data", "fixtures", "calls", "call01_stereo16k.wav")
                )
            )
            .FirstOrDefault(File.Exists);
        return fixture is null
            ? throw new FileNotFoundException(
                "give one or more recordings (the default fixture ../shared/data/fixtures/calls/call01_stereo16k.wav is not on this machine)"
            )
            : [fixture];
    }

    private static IEnumerable<double> Doubles(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => double.Parse(s, CultureInfo.InvariantCulture));

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
