using System.CommandLine;
using RealtimeSer.Cli.Bench;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench pipeline</c>: replay throughput, and its efficiency against the raw model on the same windows.</summary>
internal static class BenchPipelineCommand
{
    public static Command Create() =>
        CliCommand.Create(
            "pipeline",
            "Replay throughput and its efficiency against raw model throughput on the same windows.",
            command => new Options(command),
            RunAsync
        );

    private static async Task<int> RunAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        var cold = parse.GetValue(o.Cold);
        var hours = parse.GetValue(o.Hours);
        var passes = parse.GetValue(o.Passes);
        if (cold && passes > 1)
        {
            throw new ArgumentException(
                "--cold times the process's first pass, which only one pass can be: drop --passes, or drop --cold to time warm passes"
            );
        }
        // Several passes of a replay that lasts well under a second; one of a long (--hours) or cold run.
        passes =
            passes > 0 ? passes
            : cold || hours > 0 ? 1
            : 3;
        using var classifiers = o.Model.LoadAll(parse);
        using var vad = SileroVadModel.Load();
        var (audio, decodeSeconds) = await PipelineBench.LoadAsync(
            BenchOptions.Recordings(parse.GetValue(o.Recordings)),
            parse.GetValue(o.Copies),
            ct
        );
        var result = await PipelineBench.RunAsync(
            classifiers.Classifiers,
            vad,
            audio,
            decodeSeconds,
            hours * 3600,
            parse.GetValue(o.Jobs),
            new EngineOptions
            {
                MaxBatch = parse.GetValue(o.Batch),
                QueueCapacity = 4 * parse.GetValue(o.Batch),
                VadMaxBatch = parse.GetValue(o.VadMaxBatch),
            },
            warmUp: !cold,
            passes,
            line => Console.Error.WriteLine(line),
            ct
        );
        new BenchWriter(parse.GetValue(o.Output)!).Pipeline(result);
        return 0;
    }

    private sealed class Options(Command command)
    {
        public Argument<string[]> Recordings { get; } = command.AddArgument(BenchOptions.Recordings());

        public Option<double> Hours { get; } =
            command
                .AddOption<double>("--hours", "Loop each recording to this many hours (0: once).", 0)
                .AtLeast(0, " (0: once)");

        public Option<int> Copies { get; } =
            command.AddOption<int>("--copies", "Streams per recording, replayed in parallel.", 4).AtLeast(1);

        public Option<int> Jobs { get; } =
            command.AddOption(
                new Option<int>("-j", "--jobs") { DefaultValueFactory = _ => Environment.ProcessorCount * 2 }
            );

        public Option<int> Batch { get; } = command.AddOption(SharedOptions.Batch());

        public Option<int> VadMaxBatch { get; } =
            command.AddOption<int>(
                "--vad-max-batch",
                "Most VAD frames (of all streams and channels) per Silero run; 0: one run per frame.",
                VadBatcher.DefaultMaxBatch
            );

        public Option<bool> Cold { get; } =
            command.AddOption<bool>(
                "--cold",
                "Time the process's first pass, compilation included (what a one-off `ser replay` of a short file sees); by default an untimed warm-up pass runs first and is reported as the cold figure.",
                false
            );

        public Option<int> Passes { get; } =
            command
                .AddOption<int>(
                    "--passes",
                    "Timed passes; the best counts, as the raw VAD figure is the best of five passes, and every pass is printed (default: 3; 1 with --hours or --cold).",
                    0
                )
                .AtLeast(0, " (0: the default)");

        public Option<string> Output { get; } = command.AddOption(BenchOptions.Out("JSON and Markdown"));

        public ModelOptions Model { get; } = command.AddModelOptions();
    }
}
