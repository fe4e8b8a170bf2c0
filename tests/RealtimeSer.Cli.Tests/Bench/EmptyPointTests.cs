using System.Text.Json;
using NAudio.Wave;

namespace RealtimeSer.Cli.Tests.Bench;

/// <summary>A benchmark point with no sample (no speech, so no event) is reported, never a crash.</summary>
public sealed class EmptyPointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ser-bench-empty-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public async Task Bench_live_and_pipeline_report_a_silent_recording_with_nulls_and_n_a()
    {
        Skip.If(RealtimeSer.Core.Models.ModelCatalog.List().Count == 0, "no emotion model installed");
        // Room noise at about -60 dBFS: the VAD runs on every frame and finds no speech.
        var silence = Path.Combine(_dir, "silence.wav");
        var random = new Random(5);
        using (var writer = new WaveFileWriter(silence, new WaveFormat(16000, 16, 1)))
        {
            for (var i = 0; i < 16000 * 3; i++)
            {
                writer.WriteSample((float)(random.NextDouble() - 0.5) * 0.002f);
            }
        }

        var live = await CliRunner.RunAsync(
            "bench",
            "live",
            silence,
            "--streams",
            "1",
            "--seconds",
            "2",
            "-o",
            _dir
        );
        Assert.True(live.Exit == 0, live.Err);
        Assert.Contains("p95 n/a ms", live.Err, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^shapes: (\S+=\d+ ?)+$", live.Out);
        using (var json = await ReadJsonAsync("bench-live.json"))
        {
            var point = Assert.Single(json.RootElement.GetProperty("points").EnumerateArray());
            Assert.Equal(0, point.GetProperty("events").GetInt32());
            Assert.Equal(JsonValueKind.Null, point.GetProperty("p95_ms").ValueKind);
            Assert.True(json.RootElement.GetProperty("shapes").GetProperty("silero_vad").GetInt32() >= 1);
        }

        var pipeline = await CliRunner.RunAsync("bench", "pipeline", silence, "--copies", "1", "-o", _dir);
        Assert.True(pipeline.Exit == 0, pipeline.Err);
        Assert.Contains("n/a", pipeline.Out, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^shapes: (\S+=\d+ ?)+$", pipeline.Out);
        using (var json = await ReadJsonAsync("bench-pipeline.json"))
        {
            var result = json.RootElement.GetProperty("result");
            Assert.Equal(0, result.GetProperty("windows").GetInt32());
            Assert.Equal(JsonValueKind.Null, result.GetProperty("efficiency").ValueKind);
            // Timed after an untimed warm-up pass, whose time is the cold figure.
            Assert.True(result.GetProperty("cold_elapsed_seconds").GetDouble() > 0);
            // Three timed passes by default; the elapsed time is the best of them.
            var passes = result
                .GetProperty("timed_passes_seconds")
                .EnumerateArray()
                .Select(p => p.GetDouble())
                .ToList();
            Assert.Equal(3, passes.Count);
            Assert.Equal(passes.Min(), result.GetProperty("elapsed_seconds").GetDouble(), 9);
        }
        Assert.Contains("the cold first pass took", pipeline.Out, StringComparison.Ordinal);
        Assert.Contains("the best of 3 timed passes", pipeline.Out, StringComparison.Ordinal);

        var cold = await CliRunner.RunAsync(
            "bench",
            "pipeline",
            silence,
            "--copies",
            "1",
            "--cold",
            "-o",
            _dir
        );
        Assert.True(cold.Exit == 0, cold.Err);
        Assert.Contains("timed cold (--cold)", cold.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("warm-up pass", cold.Err, StringComparison.Ordinal);
        using (var json = await ReadJsonAsync("bench-pipeline.json"))
        {
            var result = json.RootElement.GetProperty("result");
            Assert.Equal(JsonValueKind.Null, result.GetProperty("cold_elapsed_seconds").ValueKind);
            Assert.Single(result.GetProperty("timed_passes_seconds").EnumerateArray());
        }

        // Only the first pass is cold: asking for more is refused, saying what to drop.
        var coldPasses = await CliRunner.RunAsync(
            "bench",
            "pipeline",
            silence,
            "--cold",
            "--passes",
            "2",
            "-o",
            _dir
        );
        Assert.NotEqual(0, coldPasses.Exit);
        Assert.Contains("drop --passes", coldPasses.Err, StringComparison.Ordinal);
    }

    private async Task<JsonDocument> ReadJsonAsync(string name) =>
        JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_dir, name)));
}
