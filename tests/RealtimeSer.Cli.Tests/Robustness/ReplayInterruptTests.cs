using RealtimeSer.Cli.Replay;
using RealtimeSer.Core;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using Xunit.Abstractions;

namespace RealtimeSer.Cli.Tests.Robustness;

/// <summary>
/// Faults around <c>ser replay</c> and <c>ser serve</c>: an interrupted replay never leaves a half-written
/// output or a temporary file, and a broken model stops <c>ser serve</c> at start-up with a clear message.
/// </summary>
public sealed class ReplayInterruptTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("ser-interrupt-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    /// <summary>A model that takes its time, so a replay is reliably interrupted in the middle.</summary>
    private sealed class SlowModel : IEmotionClassifier
    {
        public ModelManifest Manifest { get; } =
            new()
            {
                Id = "slow",
                ModelPath = typeof(SlowModel).Assembly.Location,
                Labels = ["calm", "angry"],
                MinWindowSeconds = 0.5,
                RecommendedWindowSeconds = 1.0,
                RecommendedHopSeconds = 0.5,
            };

        public async ValueTask ClassifyAsync(
            Memory<float> windows,
            int count,
            Memory<float> probabilities,
            CancellationToken cancellationToken = default
        )
        {
            await Task.Delay(40, cancellationToken); // the model's cost, so cancelling lands mid-run
            for (var i = 0; i < count * 2; i += 2)
            {
                probabilities.Span[i] = 0.7f;
                probabilities.Span[i + 1] = 0.3f;
            }
        }

        public void Dispose() { }
    }

    [SkippableTheory]
    [InlineData("jsonl")]
    [InlineData("csv")]
    public async Task Cancelling_a_replay_mid_run_leaves_no_partial_output_and_no_temporary_file(string kind)
    {
        var format = kind == "csv" ? ReplayFormat.Csv : ReplayFormat.Jsonl;
        var input = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        SileroVadModel vad;
        try
        {
            vad = SileroVadModel.Load(ModelLocator.SileroVad());
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"Silero VAD model missing: {e.Message}");
        }
        using var _ = vad;
        await using var engine = new EmotionEngine(
            new SlowModel(),
            vad,
            new EngineOptions { Overload = OverloadPolicy.Wait, MaxBatch = 1 }
        );
        var settings = new ReplaySettings(_out, format, ChannelMode.Split, ["agent", "customer"], false);
        var replay = new ReplayInput(input, "call01");
        using var cancel = new CancellationTokenSource();
        double audio = 0;
        var run = ReplayRunner.RunAsync(
            engine,
            replay,
            settings,
            seconds =>
            {
                audio += seconds;
                if (audio >= 20)
                {
                    cancel.Cancel(); // mid-run: events for the first 20 s are already being written
                }
            },
            cancel.Token
        );
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        var left = Directory.GetFiles(_out, "*", SearchOption.AllDirectories);
        output.WriteLine(
            $"{format}: cancelled after {audio:F1} s of audio; files left in the output folder: {left.Length} ({string.Join(", ", left.Select(Path.GetFileName))})"
        );
        Assert.True(audio >= 20, "the replay should have been cancelled mid-run");
        Assert.Empty(left);
        Assert.False(ReplayOutput.IsComplete(_out, replay, format));
    }

    [SkippableFact]
    public async Task Serve_with_a_broken_model_fails_at_start_up_with_a_clear_message()
    {
        ModelManifest good;
        try
        {
            good = ModelCatalog.Resolve(null);
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"no emotion model installed: {e.Message}");
        }
        var broken = Path.Combine(_out, "broken-model");
        Directory.CreateDirectory(broken);
        var source = Path.GetDirectoryName(good.ModelPath)!;
        foreach (var file in Directory.GetFiles(source, "*.json"))
        {
            File.Copy(file, Path.Combine(broken, Path.GetFileName(file)));
        }
        await File.WriteAllTextAsync(
            Path.Combine(broken, Path.GetFileName(good.ModelPath)),
            "this is not an ONNX graph"
        );
        var serve = CliRunner.RunAsync("serve", "--model", broken, "--port", "0", "--metrics-port", "-1");
        var finished = await Task.WhenAny(serve, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(
            finished == serve,
            "ser serve started with a broken model instead of failing at start-up"
        );
        var (exit, _, err) = await serve;
        output.WriteLine($"ser serve --model <broken>: exit {exit}, stderr: {err.Trim()}");
        Assert.NotEqual(0, exit);
        Assert.Contains("ser: error:", err, StringComparison.Ordinal);
        Assert.DoesNotContain("gRPC listening", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal); // a message, not a stack trace
    }
}
