using System.CommandLine;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary>The <c>--model</c> and <c>--threads</c> options every model-using command shares.</summary>
internal sealed class ModelOptions
{
    public Option<string?> Model { get; } =
        new("--model", "-m")
        {
            Description = "Model id (see `ser models`) or path; default: the installed default model.",
        };

    public Option<int> Threads { get; } =
        new("--threads")
        {
            Description = "ONNX Runtime intra-op threads (0: one per core).",
            DefaultValueFactory = _ => 0,
        };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Threads);
    }

    public OnnxEmotionClassifier Load(ParseResult parse, bool announce = true) =>
        Load(parse, ExecutionProviderKind.Auto, announce);

    public OnnxEmotionClassifier Load(ParseResult parse, ExecutionProviderKind provider, bool announce = true)
    {
        var manifest = ModelCatalog.Resolve(parse.GetValue(Model));
        var threads = parse.GetValue(Threads);
        var classifier = OnnxEmotionClassifier.Load(
            manifest,
            new OnnxSessionOptions
            {
                IntraOpThreads = threads > 0 ? threads : Environment.ProcessorCount,
                Provider = provider,
            }
        );
        if (announce)
        {
            // One short line; `ser info` gives the full reason when CUDA is not used.
            Console.Error.WriteLine(
                $"ser: model {manifest.Id} on {classifier.ExecutionProvider.ToString().ToUpperInvariant()} (ONNX Runtime {OnnxRuntime.Version}, "
                    + $"{(threads > 0 ? threads : Environment.ProcessorCount)} threads)"
                    + (
                        classifier.ExecutionProvider == ExecutionProviderKind.Cpu
                        && provider == ExecutionProviderKind.Auto
                            ? "; CUDA not available (see `ser info`)"
                            : ""
                    )
            );
        }
        return classifier;
    }
}
