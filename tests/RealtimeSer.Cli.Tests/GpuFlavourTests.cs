using RealtimeSer.Core;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Cli.Tests;

/// <summary>
/// The GPU flavour (Microsoft.ML.OnnxRuntime.Gpu.Linux, OnnxRuntimeFlavor=Gpu) builds, and on a machine
/// without CUDA its Auto provider falls back to CPU with one line giving ONNX Runtime's own reason. Builds
/// `ser` into .cache/gpu-build (about a minute; restoring the ~540 MB package the first time takes ~10 s
/// from the NuGet feed). Skips, saying why, when the package cannot be restored or
/// REALTIMESER_SKIP_GPU_BUILD=1.
/// </summary>
[Collection(ChildBuilds.Name)]
public class GpuFlavourTests
{
    private static readonly string Root = ModelLocator.RepositoryRoots().First();
    private static readonly string App = Path.Combine(Root, ".cache", "gpu-build", "app");

    [SkippableFact]
    public async Task Gpu_build_says_why_cuda_is_not_used_and_runs_on_cpu()
    {
        Skip.If(
            Environment.GetEnvironmentVariable("REALTIMESER_SKIP_GPU_BUILD") == "1",
            "REALTIMESER_SKIP_GPU_BUILD=1: the GPU flavour is not built"
        );
        var clip = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        var project = Path.Combine(Root, "src", "RealtimeSer.Cli", "RealtimeSer.Cli.csproj");
        var restore = await DotnetAsync("restore", project, "-p:OnnxRuntimeFlavor=Gpu");
        Skip.If(
            restore.Exit != 0,
            $"the GPU package (Microsoft.ML.OnnxRuntime.Gpu.Linux) could not be restored: {Tail(restore.Output)}"
        );
        var build = await DotnetAsync(
            "build",
            project,
            "-c",
            "Release",
            "--no-restore",
            "-p:OnnxRuntimeFlavor=Gpu",
            "-o",
            App
        );
        Assert.True(build.Exit == 0, $"the GPU flavour does not build: {Tail(build.Output)}");
        var dll = Path.Combine(App, "ser.dll");
        Assert.True(
            File.Exists(
                Path.Combine(App, "runtimes", "linux-x64", "native", "libonnxruntime_providers_cuda.so")
            )
        );

        var info = await SerProcess.RunAsync(TimeSpan.FromMinutes(2), ["info"], dll: dll);
        Assert.True(info.Exit == 0, info.Err);
        Assert.Contains(
            "package:     Microsoft.ML.OnnxRuntime.Gpu.Linux",
            info.Out,
            StringComparison.Ordinal
        );
        Assert.Contains("CUDAExecutionProvider", info.Out, StringComparison.Ordinal);
        var cudaLine = info.Out.Split('\n').Single(l => l.StartsWith("cuda:", StringComparison.Ordinal));
        Skip.If(
            cudaLine.EndsWith("available", StringComparison.Ordinal),
            "CUDA loads here: no fallback to see"
        );
        // ONNX Runtime's own words about what is missing (here: the CUDA 13 libraries), not a vague failure.
        Assert.Matches(@"failed to load: .*lib\w+\.so[.\d]*: cannot open shared object file", cudaLine);
        var reason = cudaLine["cuda:".Length..].Trim();

        var classify = await SerProcess.RunAsync(TimeSpan.FromMinutes(2), ["classify", clip], dll: dll);

        Assert.True(classify.Exit == 0, classify.Err);
        var line = Assert.Single(classify.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(
            $"ser: model {ModelCatalog.DefaultModelId} on CPU (ONNX Runtime 1.31.0",
            line,
            StringComparison.Ordinal
        );
        Assert.EndsWith($"; CUDA not used: {reason}", line, StringComparison.Ordinal);
        // Same answer as the CPU package gives in process.
        var cpu = await CliRunner.RunAsync("classify", clip);
        Assert.Equal(cpu.Out.Trim(), classify.Out.Trim());
    }

    private static async Task<(int Exit, string Output)> DotnetAsync(params string[] args)
    {
        // Its own compiler process (no shared compiler server), so that all of the build runs at low priority;
        // no analyzers: the CPU build already checks the code, this one only has to produce the GPU flavour.
        var (exit, stdout, stderr) = await SerProcess.DotnetAsync(
            TimeSpan.FromMinutes(12),
            [
                .. args,
                "-nologo",
                "-v",
                "q",
                "-nodeReuse:false",
                "-p:UseSharedCompilation=false",
                "-p:RunAnalyzers=false",
            ],
            background: true
        );
        return (exit, stdout + stderr);
    }

    private static string Tail(string text) => text.Length <= 3000 ? text : text[^3000..];
}
