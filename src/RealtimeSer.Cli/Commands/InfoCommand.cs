using System.CommandLine;
using RealtimeSer.Core;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser info</c>: the ONNX Runtime package in use, the execution providers it offers, and model paths.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command(
            "info",
            "Show the ONNX Runtime version, execution providers and model paths."
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
                    Console.WriteLine(
                        $"cuda:        {OnnxRuntime.CudaUnavailableReason?.Trim() ?? "available"}"
                    );
                    Console.WriteLine($"vad model:   {ModelLocator.SileroVad()}");
                    return Task.FromResult(0);
                })
        );
        return command;
    }
}
