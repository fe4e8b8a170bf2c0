using System.CommandLine;
using RealtimeSer.Cli.Bench;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench pipeline</c>: replay throughput, and its efficiency against the raw model on the same windows.</summary>
internal static class BenchPipelineCommand
{
    public static Command Create()
    {
        var recordings = BenchOptions.Recordings();
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
        var batch = SharedOptions.Batch();
        var vadMaxBatch = new Option<int>("--vad-max-batch")
        {
            Description =
                "Most VAD frames (of all streams and channels) per Silero run; 0: one run per frame.",
            DefaultValueFactory = _ => VadBatcher.DefaultMaxBatch,
        };
        var output = BenchOptions.Out("JSON and Markdown");
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
                    var (audio, decodeSeconds) = await PipelineBench.LoadAsync(
                        BenchOptions.Recordings(parse.GetValue(recordings)),
                        Math.Max(1, parse.GetValue(copies)),
                        ct
                    );
                    var result = await PipelineBench.RunAsync(
                        classifiers.Classifiers,
                        vad,
                        audio,
                        decodeSeconds,
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
                    new BenchWriter(parse.GetValue(output)!).Pipeline(result);
                    return 0;
                })
        );
        return command;
    }
}
