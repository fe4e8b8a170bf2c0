using System.CommandLine;
using System.Runtime.InteropServices;
using RealtimeSer.Core;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Vad;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary>
/// <c>ser info</c>: the ONNX Runtime package in use, the execution providers it offers, model paths, and
/// which .NET runtime runs <c>ser</c> (a published folder's own, or a shared installation).
/// </summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command(
            "info",
            "Show the ONNX Runtime version, execution providers, model paths and the .NET runtime in use."
        );
        command.SetAction(
            (_, _) =>
                CliErrors.RunAsync(() =>
                {
                    Console.WriteLine($"onnxruntime: {OnnxRuntime.Version}");
                    Console.WriteLine(
                        $"package:     {OnnxRuntime.NativePackage} (OnnxRuntimeFlavor={OnnxRuntime.Flavor})"
                    );
                    Console.WriteLine($"providers:   {string.Join(", ", OnnxRuntime.AvailableProviders)}");
                    Console.WriteLine($"cuda:        {ExecutionNotes.CudaStatus()}");
                    Console.WriteLine($"vad model:   {ModelLocator.SileroVad()}");
                    Console.WriteLine($"vad graph:   {VadGraph()}");
                    var models = ModelCatalog.List();
                    Console.WriteLine(
                        models.Count == 0
                            ? $"models:      none installed (looked in: {string.Join(", ", ModelCatalog.Folders())})"
                            : "models:      "
                                + string.Join(
                                    "\n             ",
                                    models.Select(m =>
                                        $"{m.Id}{(m.Id == ModelCatalog.DefaultModelId ? " (default)" : "")}: {m.ModelPath}"
                                    )
                                )
                    );
                    Console.WriteLine(
                        $"runtime:     .NET {Environment.Version} in {RuntimeEnvironment.GetRuntimeDirectory()}"
                    );
                    return Task.FromResult(0);
                })
        );
        return command;
    }

    /// <summary>How Silero runs: split (encoder batched over frames) or whole, and why.</summary>
    private static string VadGraph()
    {
        try
        {
            using var vad = SileroVadModel.Load();
            return vad.IsSplit
                ? $"split: the encoder {vad.Encoder}, batched over frames and channels; the LSTM step in C#"
                : $"whole, one frame of each channel per run: {vad.WholeGraphReason}";
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or OnnxException)
        {
            return $"cannot load: {e.Message}";
        }
    }
}
