using System.CommandLine;
using Grpc.Core;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser replay INPUT... --out DIR</c>: batch replay of recorded calls.</summary>
internal static class ReplayCommand
{
    public static Command Create() =>
        CliCommand.Create(
            "replay",
            "Replay recorded calls: emotion events per channel, one output per input.",
            command => new Options(command),
            RunAsync
        );

    private static async Task<int> RunAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        var problems = new List<string>();
        var part = parse.GetValue(o.Shard) is { } text ? ReplayShard.Parse(text) : ReplayShard.All;
        var all = InputExpander.Expand(parse.GetValue(o.Inputs)!, problems).Where(part.Contains).ToList();
        foreach (var p in problems)
        {
            await Console.Error.WriteLineAsync($"replay: {p}");
        }
        if (parse.GetValue(o.List))
        {
            foreach (var input in all)
            {
                await Console.Out.WriteLineAsync(input.OutputName.Replace('\\', '/'));
            }
            return problems.Count == 0 ? 0 : CliErrors.Failure;
        }
        if (all.Count == 0 && part.Count > 1)
        {
            await Console.Error.WriteLineAsync($"replay: shard {part} has no inputs; nothing to do");
            return problems.Count == 0 ? 0 : CliErrors.Failure;
        }
        if (all.Count == 0)
        {
            await Console.Error.WriteLineAsync("replay: nothing to do: no audio inputs found");
            return CliErrors.Failure;
        }
        var settings = o.Settings(parse);
        Directory.CreateDirectory(settings.OutDir);
        var quiet = parse.GetValue(o.Quiet);
        var progress = new ReplayProgress(all.Count, KnownDuration(all), quiet);
        var batch = new ReplayBatch(
            all,
            parse.GetValue(o.Resume),
            Math.Max(1, parse.GetValue(o.Jobs)),
            progress
        );
        if (parse.GetValue(o.Server) is { } url)
        {
            if (!await ReplayThroughServerAsync(o, parse, new Uri(url), settings, batch, ct))
            {
                return CliErrors.Failure;
            }
        }
        else
        {
            await ReplayInProcessAsync(o, parse, settings, batch, ct);
        }
        if (!quiet)
        {
            await Console.Error.WriteLineAsync(
                $"replay: {progress.Done - progress.Failed}/{all.Count} files done, {progress.Failed} failed; "
                    + $"{progress.AudioSeconds / 3600:0.000} h of audio in {progress.Elapsed:0.0} s "
                    + $"({progress.AudioSeconds / Math.Max(1e-9, progress.Elapsed):0}x real time); outputs in {settings.OutDir}"
            );
        }
        return progress.Failed == 0 && problems.Count == 0 ? 0 : CliErrors.Failure;
    }

    /// <summary>Replays every input through a running server; false when it cannot be reached (said on stderr).</summary>
    private static async Task<bool> ReplayThroughServerAsync(
        Options o,
        ParseResult parse,
        Uri address,
        ReplaySettings settings,
        ReplayBatch batch,
        CancellationToken ct
    )
    {
        using var channel = new SerChannel(address, parse.GetValue(o.ApiKey));
        if (await ConnectionMessages.CheckAsync(channel, ct) is { } unreachable)
        {
            await Console.Error.WriteLineAsync(unreachable);
            return false;
        }
        var ids = o.Model.Ids(parse);
        settings = settings with { Recipe = o.Recipe(parse, settings, ids) };
        var template = RemoteModels.Config(ids);
        if (parse.GetValue(o.Window) is { } w)
        {
            template.WindowSeconds = w;
        }
        if (parse.GetValue(o.Hop) is { } h)
        {
            template.HopSeconds = h;
        }
        var runner = new RemoteReplayRunner(channel.Recognizer, settings, template);
        await batch.RunAsync(
            settings,
            async (input, token) =>
            {
                try
                {
                    return await runner.RunAsync(input, batch.Progress.AddAudio, token);
                }
                catch (RpcException e)
                {
                    throw new IOException(channel.Explain(e), e);
                }
            },
            ct
        );
        return true;
    }

    private static async Task ReplayInProcessAsync(
        Options o,
        ParseResult parse,
        ReplaySettings settings,
        ReplayBatch batch,
        CancellationToken ct
    )
    {
        var loaded = await o.Model.LoadAllWithVadAsync(parse, !parse.GetValue(o.Quiet), ct);
        using var classifiers = loaded.Models;
        using var vad = loaded.Vad;
        settings = settings with
        {
            Recipe = o.Recipe(parse, settings, [.. classifiers.Classifiers.Select(c => c.Manifest.Id)]),
        };
        await using var engine = new EmotionEngine(classifiers.Classifiers, vad, EngineOptions(o, parse));
        await batch.RunAsync(
            settings,
            (input, token) => ReplayRunner.RunAsync(engine, input, settings, batch.Progress.AddAudio, token),
            ct
        );
    }

    /// <summary>The one engine of an in-process replay, shared by every input; it waits rather than drop a window.</summary>
    private static EngineOptions EngineOptions(Options o, ParseResult parse) =>
        new()
        {
            Overload = OverloadPolicy.Wait,
            MaxBatch = parse.GetValue(o.Batch),
            MaxBatchDelay = Core.Pipeline.EngineOptions.ReplayMaxBatchDelay,
            QueueCapacity = 4 * parse.GetValue(o.Batch),
            Streams = new StreamOptions
            {
                WindowSeconds = parse.GetValue(o.Window),
                HopSeconds = parse.GetValue(o.Hop),
                InterimResults = !parse.GetValue(o.FinalsOnly),
            },
            // Replay never sheds a window, so batched VAD only makes it faster.
            VadMaxBatch = VadBatcher.DefaultMaxBatch,
        };

    /// <summary>The inputs of one run, replayed <c>-j</c> at a time, with <c>--resume</c> skipping finished ones.</summary>
    private sealed record ReplayBatch(
        IReadOnlyList<ReplayInput> Inputs,
        bool Resume,
        int Jobs,
        ReplayProgress Progress
    )
    {
        public Task RunAsync(
            ReplaySettings settings,
            Func<ReplayInput, CancellationToken, Task<ReplayStats>> replay,
            CancellationToken ct
        ) =>
            Progress.RunAsync(() =>
                Parallel.ForEachAsync(
                    Inputs,
                    new ParallelOptions { MaxDegreeOfParallelism = Jobs, CancellationToken = ct },
                    async (input, token) =>
                    {
                        if (Resume && !NeedsRedo(settings, input))
                        {
                            return;
                        }
                        try
                        {
                            Progress.FileDone(input, await replay(input, token));
                        }
                        catch (Exception e) when (e is not OperationCanceledException)
                        {
                            Progress.FileFailed(input, e);
                        }
                    }
                )
            );

        /// <summary>False for an input whose outputs are complete and made the same way (reported as skipped).</summary>
        private bool NeedsRedo(ReplaySettings settings, ReplayInput input)
        {
            var why = ReplayOutput.WhyRedo(settings.OutDir, input, settings.Recipe!);
            if (why is null)
            {
                Progress.FileSkipped(input);
                return false;
            }
            if (why != ReplayOutput.NotWritten)
            {
                Progress.FileRedone(input, why);
            }
            return true;
        }
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

    private sealed class Options(Command command)
    {
        public Argument<string[]> Inputs { get; } =
            command.AddArgument(
                new Argument<string[]>("input")
                {
                    Arity = ArgumentArity.OneOrMore,
                    Description = "Files, directories (recursive) and globs (quote them: 'calls/**/*.wav').",
                }
            );

        public Option<string> OutDir { get; } =
            command.AddOption(
                new Option<string>("--out", "-o") { Description = "Output directory.", Required = true }
            );

        public Option<ReplayFormat> Format { get; } =
            command.AddOption<ReplayFormat>(
                "--format",
                "jsonl (one event per line) or csv.",
                ReplayFormat.Jsonl
            );

        public Option<bool> Quiet { get; } =
            command.AddOption(
                new Option<bool>("--quiet", "-q")
                {
                    Description = "No progress; failures are still reported.",
                }
            );

        public Option<int> Jobs { get; } =
            command.AddOption(
                new Option<int>("-j", "--jobs")
                {
                    Description = "Files processed in parallel.",
                    DefaultValueFactory = _ => Environment.ProcessorCount,
                }
            );

        public Option<bool> Resume { get; } =
            command.AddOption<bool>("--resume", "Skip inputs whose outputs are complete.");

        public Option<string?> Channels { get; } =
            command.AddOption<string?>("--channels", "Channel names, e.g. agent,customer.");

        public Option<bool> Mix { get; } =
            command.AddOption<bool>("--mix", "Downmix to mono instead of analysing each channel.");

        public Option<bool> FinalsOnly { get; } =
            command.AddOption<bool>("--finals-only", "Write only the final event of each segment.");

        public Option<double?> Window { get; } = command.AddOption(SharedOptions.Window());

        public Option<double?> Hop { get; } = command.AddOption(SharedOptions.Hop());

        public Option<int> Batch { get; } =
            command.AddOption(SharedOptions.Batch("Largest batch per model run."));

        public Option<string?> Shard { get; } =
            command.AddOption<string?>(
                "--shard",
                "I/N: process only this worker's share (0-based I of N workers), by a stable hash of each output name; N workers cover every input exactly once."
            );

        public Option<bool> List { get; } =
            command.AddOption<bool>(
                "--list",
                "Print the inputs this run (this shard) would process, one output name per line, and stop."
            );

        public Option<string?> Server { get; } =
            command.AddOption(
                SharedOptions.Server(
                    "Replay through a running `ser serve` (or a load balancer in front of replicas) at this URL instead of in process."
                )
            );

        public Option<string?> ApiKey { get; } = command.AddOption(SharedOptions.ApiKey());

        public ModelOptions Model { get; } = command.AddModelOptions();

        public ReplaySettings Settings(ParseResult parse) =>
            new(
                Path.GetFullPath(parse.GetValue(OutDir)!),
                parse.GetValue(Format),
                parse.GetValue(Mix) ? ChannelMode.Mix : ChannelMode.Split,
                parse
                    .GetValue(Channels)
                    ?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                parse.GetValue(FinalsOnly)
            );

        /// <summary>How this run makes its outputs, which <c>--resume</c> compares with a finished output's.</summary>
        public ReplayRecipe Recipe(
            ParseResult parse,
            ReplaySettings settings,
            IReadOnlyList<string> models
        ) =>
            new(
                models,
                settings.Format,
                settings.FinalsOnly,
                settings.Mode,
                settings.ChannelNames,
                parse.GetValue(Window),
                parse.GetValue(Hop)
            );
    }
}
