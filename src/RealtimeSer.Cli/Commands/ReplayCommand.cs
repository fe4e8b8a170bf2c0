using System.CommandLine;
using Grpc.Core;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser replay INPUT... --out DIR</c>: batch replay of recorded calls.</summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("input")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "Files, directories (recursive) and globs (quote them: 'calls/**/*.wav').",
        };
        var outDir = new Option<string>("--out", "-o") { Description = "Output directory.", Required = true };
        var format = new Option<ReplayFormat>("--format")
        {
            Description = "jsonl (one event per line) or csv.",
            DefaultValueFactory = _ => ReplayFormat.Jsonl,
        };
        var quiet = new Option<bool>("--quiet", "-q")
        {
            Description = "No progress; failures are still reported.",
        };
        var jobs = new Option<int>("-j", "--jobs")
        {
            Description = "Files processed in parallel.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var resume = new Option<bool>("--resume") { Description = "Skip inputs whose outputs are complete." };
        var channels = new Option<string?>("--channels")
        {
            Description = "Channel names, e.g. agent,customer.",
        };
        var mix = new Option<bool>("--mix")
        {
            Description = "Downmix to mono instead of analysing each channel.",
        };
        var finalsOnly = new Option<bool>("--finals-only")
        {
            Description = "Write only the final event of each segment.",
        };
        var window = new Option<double?>("--window")
        {
            Description = "Window seconds (default: the model's).",
        };
        var hop = new Option<double?>("--hop") { Description = "Hop seconds (default: the model's)." };
        var batch = new Option<int>("--batch")
        {
            Description = "Largest batch per model run.",
            DefaultValueFactory = _ => 16,
        };
        var shard = new Option<string?>("--shard")
        {
            Description =
                "I/N: process only this worker's share (0-based I of N workers), by a stable hash of each output name; N workers cover every input exactly once.",
        };
        var list = new Option<bool>("--list")
        {
            Description =
                "Print the inputs this run (this shard) would process, one output name per line, and stop.",
        };
        var server = new Option<string?>("--server")
        {
            Description =
                "Replay through a running `ser serve` (or a load balancer in front of replicas) at this URL instead of in process.",
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "With --server: sent as authorization: Bearer <key>.",
        };
        var model = new ModelOptions();

        var command = new Command(
            "replay",
            "Replay recorded calls: emotion events per channel, one output per input."
        )
        {
            inputs,
            outDir,
            format,
            quiet,
            jobs,
            resume,
            channels,
            mix,
            finalsOnly,
            window,
            hop,
            batch,
            shard,
            list,
            server,
            apiKey,
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    var problems = new List<string>();
                    var part = parse.GetValue(shard) is { } text ? ReplayShard.Parse(text) : ReplayShard.All;
                    var all = InputExpander
                        .Expand(parse.GetValue(inputs)!, problems)
                        .Where(part.Contains)
                        .ToList();
                    foreach (var p in problems)
                    {
                        await Console.Error.WriteLineAsync($"replay: {p}");
                    }
                    if (parse.GetValue(list))
                    {
                        foreach (var input in all)
                        {
                            await Console.Out.WriteLineAsync(input.OutputName.Replace('\\', '/'));
                        }
                        return problems.Count == 0 ? 0 : CliErrors.Failure;
                    }
                    if (all.Count == 0 && part.Count > 1)
                    {
                        await Console.Error.WriteLineAsync(
                            $"replay: shard {part} has no inputs; nothing to do"
                        );
                        return problems.Count == 0 ? 0 : CliErrors.Failure;
                    }
                    if (all.Count == 0)
                    {
                        await Console.Error.WriteLineAsync("replay: nothing to do: no audio inputs found");
                        return CliErrors.Failure;
                    }
                    var settings = new ReplaySettings(
                        Path.GetFullPath(parse.GetValue(outDir)!),
                        parse.GetValue(format),
                        parse.GetValue(mix) ? ChannelMode.Mix : ChannelMode.Split,
                        parse
                            .GetValue(channels)
                            ?.Split(
                                ',',
                                StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries
                            ),
                        parse.GetValue(finalsOnly)
                    );
                    Directory.CreateDirectory(settings.OutDir);
                    ReplayRecipe Recipe(IReadOnlyList<string> models) =>
                        new(
                            models,
                            settings.Format,
                            settings.FinalsOnly,
                            settings.Mode,
                            settings.ChannelNames,
                            parse.GetValue(window),
                            parse.GetValue(hop)
                        );
                    var resumeRun = parse.GetValue(resume);
                    var progress = new ReplayProgress(all.Count, KnownDuration(all), parse.GetValue(quiet));
                    var parallel = new ParallelOptions
                    {
                        MaxDegreeOfParallelism = Math.Max(1, parse.GetValue(jobs)),
                        CancellationToken = ct,
                    };
                    Func<ReplayInput, CancellationToken, Task<ReplayStats>> run;
                    using var channel = parse.GetValue(server) is { } url
                        ? new SerChannel(new Uri(url), parse.GetValue(apiKey))
                        : null;
                    EmotionEngine? engine = null;
                    IDisposable? loaded = null;
                    if (channel is not null)
                    {
                        if (await ConnectionMessages.CheckAsync(channel, ct) is { } unreachable)
                        {
                            await Console.Error.WriteLineAsync(unreachable);
                            return CliErrors.Failure;
                        }
                        var client = channel.Recognizer;
                        settings = settings with { Recipe = Recipe(model.Ids(parse)) };
                        var template = RemoteModels.Config(model.Ids(parse));
                        if (parse.GetValue(window) is { } w)
                        {
                            template.WindowSeconds = w;
                        }
                        if (parse.GetValue(hop) is { } h)
                        {
                            template.HopSeconds = h;
                        }
                        run = async (input, token) =>
                        {
                            try
                            {
                                return await RemoteReplayRunner.RunAsync(
                                    client,
                                    input,
                                    settings,
                                    template,
                                    progress.AddAudio,
                                    token
                                );
                            }
                            catch (RpcException e)
                            {
                                throw new IOException(channel.Explain(e), e);
                            }
                        };
                    }
                    else
                    {
                        var classifiers = model.LoadAll(parse, announce: !parse.GetValue(quiet));
                        settings = settings with
                        {
                            Recipe = Recipe([.. classifiers.Classifiers.Select(c => c.Manifest.Id)]),
                        };
                        var vad = SileroVadModel.Load();
                        loaded = new Owned(classifiers, vad);
                        var options = new EngineOptions
                        {
                            Overload = OverloadPolicy.Wait,
                            WindowSeconds = parse.GetValue(window),
                            HopSeconds = parse.GetValue(hop),
                            MaxBatch = parse.GetValue(batch),
                            QueueCapacity = 4 * parse.GetValue(batch),
                            InterimResults = !parse.GetValue(finalsOnly),
                            // Replay never sheds, so batched VAD only makes it faster (1.7×, docs/benchmarks.md).
                            VadMaxBatch = Core.Vad.Batching.VadBatcher.DefaultMaxBatch,
                        };
                        engine = new EmotionEngine(classifiers.Classifiers, vad, options);
                        var shared = engine;
                        run = (input, token) =>
                            ReplayRunner.RunAsync(shared, input, settings, progress.AddAudio, token);
                    }
                    try
                    {
                        await progress.RunAsync(() =>
                            Parallel.ForEachAsync(
                                all,
                                parallel,
                                async (input, token) =>
                                {
                                    if (resumeRun)
                                    {
                                        var why = ReplayOutput.WhyRedo(
                                            settings.OutDir,
                                            input,
                                            settings.Recipe!
                                        );
                                        if (why is null)
                                        {
                                            progress.FileSkipped(input);
                                            return;
                                        }
                                        if (why != ReplayOutput.NotWritten)
                                        {
                                            progress.FileRedone(input, why);
                                        }
                                    }
                                    try
                                    {
                                        progress.FileDone(input, await run(input, token));
                                    }
                                    catch (Exception e) when (e is not OperationCanceledException)
                                    {
                                        progress.FileFailed(input, e);
                                    }
                                }
                            )
                        );
                    }
                    finally
                    {
                        if (engine is not null)
                        {
                            await engine.DisposeAsync();
                        }
                        loaded?.Dispose();
                    }
                    if (!parse.GetValue(quiet))
                    {
                        await Console.Error.WriteLineAsync(
                            $"replay: {progress.Done - progress.Failed}/{all.Count} files done, {progress.Failed} failed; "
                                + $"{progress.AudioSeconds / 3600:0.000} h of audio in {progress.Elapsed:0.0} s "
                                + $"({progress.AudioSeconds / Math.Max(1e-9, progress.Elapsed):0}x real time); outputs in {settings.OutDir}"
                        );
                    }
                    return progress.Failed == 0 && problems.Count == 0 ? 0 : CliErrors.Failure;
                })
        );
        return command;
    }

    /// <summary>Total audio seconds when every input's length is known from its header (WAV), else 0.</summary>
    private static double KnownDuration(IEnumerable<ReplayInput> inputs)
    {
        double total = 0;
        foreach (var input in inputs)
        {
            if (!input.Path.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
            {
                return 0;
            }
            try
            {
                using var reader = WavReader.Open(input.Path);
                if (reader.TotalFrames is not { } frames)
                {
                    return 0;
                }
                total += frames / (double)reader.Format.SampleRate;
            }
            catch (AudioFormatException)
            {
                // Reported properly when the file's turn comes; the bar just falls back to file counts.
                return 0;
            }
        }
        return total;
    }

    /// <summary>The in-process model and VAD, disposed after the engine that uses them.</summary>
    private sealed class Owned(IDisposable classifier, IDisposable vad) : IDisposable
    {
        public void Dispose()
        {
            classifier.Dispose();
            vad.Dispose();
        }
    }
}
