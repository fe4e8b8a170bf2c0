using System.CommandLine;
using RealtimeSer.Cli.Bench;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench model</c>: raw ONNX Runtime latency and throughput, the limit the pipeline is measured against.</summary>
internal static class BenchModelCommand
{
    public static Command Create()
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
        var output = BenchOptions.Out("JSON, Markdown and SVG");
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
                CliErrors.RunAsync(() =>
                {
                    if (!OnnxRuntime.HasCuda)
                    {
                        BenchWriter.CudaNotMeasured(ExecutionNotes.CudaStatus());
                    }
                    var results = ModelBench.Run(
                        kind => model.Load(parse, kind),
                        OnnxRuntime.HasCuda,
                        BenchOptions.Numbers(parse.GetValue(windows)!),
                        BenchOptions.Integers(parse.GetValue(batches)!),
                        TimeSpan.FromSeconds(parse.GetValue(seconds)),
                        BenchWriter.ModelPointMeasured,
                        ct
                    );
                    new BenchWriter(parse.GetValue(output)!).Model(results);
                    return Task.FromResult(0);
                })
        );
        return command;
    }
}
