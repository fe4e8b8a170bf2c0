using System.Runtime.InteropServices;
using RealtimeSer.Core;

namespace RealtimeSer.Cli.Tests;

/// <summary>
/// tools/publish's tarball works where there is no repository, no .NET and no set-up: unpacked into an empty
/// folder outside the clone, its <c>ser</c> runs with a bare environment. Publishes once per run (about
/// 1.5 minutes the first time, restoring the runtime packs; incremental after that).
/// </summary>
[Collection(ChildBuilds.Name)]
public class PublishTests(PublishTests.Published published) : IClassFixture<PublishTests.Published>
{
    [SkippableFact]
    public async Task Info_reports_onnx_runtime_and_the_bundled_runtime_and_vad_model()
    {
        var dir = published.Require();

        var info = await published.RunAsync("info");

        Assert.True(info.Exit == 0, info.Err);
        Assert.Contains("onnxruntime: 1.31.1", info.Out, StringComparison.Ordinal);
        Assert.Contains("providers:   CPUExecutionProvider", info.Out, StringComparison.Ordinal);
        Assert.Contains(
            $"vad model:   {Path.Combine(dir, "models", "silero_vad_v5.onnx")}",
            info.Out,
            StringComparison.Ordinal
        );
        // The .NET runtime is the folder's own, not an installed one that happens to be on this machine.
        Assert.Contains($".NET 10.0.", info.Out, StringComparison.Ordinal);
        Assert.Contains($" in {dir}{Path.DirectorySeparatorChar}", info.Out, StringComparison.Ordinal);
        // There is no ./ser beside the published program: the way to CUDA is a build from the repository.
        Assert.Contains(
            "cuda:        not in this build: the published ser carries ONNX Runtime's CPU package",
            info.Out,
            StringComparison.Ordinal
        );
        Assert.DoesNotContain("./ser", info.Out, StringComparison.Ordinal);
        Assert.Contains(
            $"general6 (default): {Path.Combine(dir, "models", "general6")}",
            info.Out,
            StringComparison.Ordinal
        );
    }

    [SkippableFact]
    public async Task Classify_uses_the_bundled_default_model_and_answers_as_the_build_does()
    {
        var clip = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        published.Require();

        var classify = await published.RunAsync("classify", clip);

        Assert.True(classify.Exit == 0, classify.Err);
        Assert.Matches(
            @"^.*1004_TSI_ANG_XX\.wav: (angry|disgust|fear|happy|neutral|sad) \(\d+\s%\)",
            classify.Out
        );
        // One short line: the CPU package cannot use CUDA, so there is nothing to explain at every start.
        Assert.Matches(
            @"^ser: model general6 on CPU \(ONNX Runtime [\d.]+, \d+ threads\)$",
            classify.Err.Trim()
        );
        var built = await CliRunner.RunAsync("classify", clip);
        Assert.Equal(built.Out.Trim(), classify.Out.Trim());
    }

    /// <summary>Runs tools/publish into a temporary folder and unpacks its tarball into an empty one.</summary>
    public sealed class Published : IAsyncLifetime
    {
        private readonly string _work = Path.Combine(
            Path.GetTempPath(),
            $"ser-publish-test-{Environment.ProcessId}-{Guid.NewGuid():N}"
        );
        private string? _skip;

        /// <summary>The unpacked realtime-ser folder.</summary>
        public string Dir => Path.Combine(_work, "unpacked", "realtime-ser");

        public async Task InitializeAsync()
        {
            if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
            {
                _skip =
                    $"tools/publish makes a linux-x64 program; this is {RuntimeInformation.RuntimeIdentifier}";
                return;
            }
            var root = ModelLocator.RepositoryRoots().First();
            var output = Path.Combine(_work, "out");
            // Under nice, like the GPU build: heavy work that must not starve the timing-sensitive tests.
            var publish = await SerProcess.ExecAsync(
                TimeSpan.FromMinutes(12),
                "nice",
                ["-n", "10", Path.Combine(root, "tools", "publish"), output]
            );
            if (publish.Exit != 0)
            {
                throw new InvalidOperationException(
                    $"tools/publish failed ({publish.Exit}): {Tail(publish.Err)}"
                );
            }
            var tarball = publish.Out.Trim();
            Assert.Equal(Path.Combine(output, "realtime-ser-linux-x64.tar.gz"), tarball);
            var unpacked = Directory.CreateDirectory(Path.Combine(_work, "unpacked")).FullName;
            var tar = await SerProcess.ExecAsync(
                TimeSpan.FromMinutes(2),
                "tar",
                ["-xzf", tarball, "-C", unpacked]
            );
            Assert.True(tar.Exit == 0, tar.Err);
            // Only the unpacked copy is used from here on.
            Directory.Delete(output, recursive: true);
        }

        public string Require()
        {
            Skip.If(_skip is not null, _skip);
            return Dir;
        }

        /// <summary>
        /// Runs the unpacked <c>ser</c> in its folder with a bare environment: no DOTNET_ROOT, no
        /// REALTIMESER_* variables, a HOME of its own.
        /// </summary>
        public Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) =>
            SerProcess.ExecAsync(
                TimeSpan.FromMinutes(2),
                Path.Combine(Dir, "ser"),
                args,
                env =>
                {
                    env.Clear();
                    env["PATH"] = "/usr/bin:/bin";
                    env["HOME"] = _work;
                },
                workingDirectory: Dir
            );

        public Task DisposeAsync()
        {
            if (Directory.Exists(_work))
            {
                Directory.Delete(_work, recursive: true);
            }
            return Task.CompletedTask;
        }

        private static string Tail(string text) => text.Length <= 3000 ? text : text[^3000..];
    }
}
