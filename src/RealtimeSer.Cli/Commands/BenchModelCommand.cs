using System.CommandLine;
using RealtimeSer.Cli.Bench;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench model</c>: raw ONNX Runtime latency and throughput, the limit the pipeline is measured against.</summary>
internal static class BenchModelCommand
{
    public static Command Create() =>
        CliCommand.Create(
            "model",
            "Raw ONNX Runtime latency and throughput per batch size and window length.",
            command => new Options(command),
            Run
        );

    private static Task<int> Run(Options o, ParseResult parse, CancellationToken ct)
    {
        if (!OnnxRuntime.HasCuda)
        {
            BenchWriter.CudaNotMeasured(ExecutionNotes.CudaStatus());
        }
        var results = ModelBench.Run(
            kind => o.Model.Load(parse, kind),
            OnnxRuntime.HasCuda,
            BenchOptions.Numbers(parse.GetValue(o.Windows)!),
            BenchOptions.Integers(parse.GetValue(o.Batches)!),
            TimeSpan.FromSeconds(parse.GetValue(o.Seconds)),
            BenchWriter.ModelPointMeasured,
            ct
        );
        new BenchWriter(parse.GetValue(o.Output)!).Model(results);
        return Task.FromResult(0);
    }

    private sealed class Options(Command command)
    {
        public Option<string> Batches { get; } =
            command
                .AddOption<string>("--batches", null, "1,2,4,8,16,32,64")
                .NumberList(1, whole: true, "1,8,64");

        public Option<string> Windows { get; } =
            command
                .AddOption<string>("--windows", "Window seconds.", "1,2,3")
                .NumberList(0.1, whole: false, "1,2.5");

        public Option<double> Seconds { get; } = command.AddOption<double>("--seconds", "Time per point.", 2);

        public Option<string> Output { get; } = command.AddOption(BenchOptions.Out("JSON, Markdown and SVG"));

        public ModelOptions Model { get; } = command.AddModelOptions();
    }
}
