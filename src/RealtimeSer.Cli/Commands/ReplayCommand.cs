using System.CommandLine;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;

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
        };
        model.AddTo(command);
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    var problems = new List<string>();
                    var all = InputExpander.Expand(parse.GetValue(inputs)!, problems);
                    foreach (var p in problems)
                    {
                        await Console.Error.WriteLineAsync($"replay: {p}");
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

                    using var classifier = model.Load(parse, announce: !parse.GetValue(quiet));
                    using var vad = SileroVadModel.Load();
                    var options = new EngineOptions
                    {
                        Overload = OverloadPolicy.Wait,
                        WindowSeconds = parse.GetValue(window),
                        HopSeconds = parse.GetValue(hop),
                        MaxBatch = parse.GetValue(batch),
                        QueueCapacity = 4 * parse.GetValue(batch),
                        InterimResults = !parse.GetValue(finalsOnly),
                    };
                    await using var engine = new EmotionEngine(classifier, vad, options);

                    var resumeRun = parse.GetValue(resume);
                    var progress = new ReplayProgress(all.Count, KnownDuration(all), parse.GetValue(quiet));
                    await progress.RunAsync(() =>
                        Parallel.ForEachAsync(
                            all,
                            new ParallelOptions
                            {
                                MaxDegreeOfParallelism = Math.Max(1, parse.GetValue(jobs)),
                                CancellationToken = ct,
                            },
                            async (input, token) =>
                            {
                                if (
                                    resumeRun
                                    && ReplayOutput.IsComplete(settings.OutDir, input, settings.Format)
                                )
                                {
                                    progress.FileSkipped(input);
                                    return;
                                }
                                try
                                {
                                    var stats = await ReplayRunner.RunAsync(
                                        engine,
                                        input,
                                        settings,
                                        progress.AddAudio,
                                        token
                                    );
                                    progress.FileDone(input, stats);
                                }
                                catch (Exception e) when (e is not OperationCanceledException)
                                {
                                    progress.FileFailed(input, e);
                                }
                            }
                        )
                    );
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
}
