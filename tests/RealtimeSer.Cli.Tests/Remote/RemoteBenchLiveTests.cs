using System.Text.Json;
using NAudio.Wave;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Cli.Tests.Remote;

/// <summary><c>ser bench live --server</c>: the live benchmark against a running server.</summary>
public class RemoteBenchLiveTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Bench_live_against_a_server_measures_every_stream()
    {
        var recording = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        await using var server = await RemoteServer.StartAsync();

        var (result, stdout, stderr) = await RunBenchLiveAsync(recording, 2, "--server", server.Url);

        Assert.Equal(server.Url, result.GetProperty("server").GetString());
        var point = AssertPoint(result, streams: 2, stderr);
        // Through a server: the server's own share of each event's latency (its latency.end_to_end_ms) is part
        // of what the client measures, so its p95 cannot exceed the client's; no VAD batching is reported.
        var serverP95 = point.GetProperty("server_p95_ms").GetDouble();
        Assert.True(double.IsFinite(serverP95) && serverP95 > 0, $"server p95 {serverP95}");
        Assert.True(serverP95 <= point.GetProperty("p95_ms").GetDouble() + 1e-6, $"server p95 {serverP95}");
        Assert.Equal(JsonValueKind.Null, point.GetProperty("vad_max_batch").ValueKind);
        Assert.Contains("client CPU %", stdout);
        // The server served the two streams to their end (counted once each call's handler has unwound).
        using var http = new HttpClient();
        double served = 0;
        await Poll.UntilAsync(
            async () =>
            {
                served = CallsEndedOk(
                    await http.GetStringAsync($"http://127.0.0.1:{server.Server.MetricsPort}/metrics")
                );
                return served >= 2;
            },
            TimeSpan.FromSeconds(10),
            () => $"{served} StreamingRecognize calls ended OK"
        );
        Assert.Equal(2, served);
    }

    [SkippableFact]
    public async Task Bench_live_in_process_measures_every_stream()
    {
        var recording = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        Skip.If(
            RealtimeSer.Core.Models.ModelCatalog.List().Count == 0,
            "no emotion model installed (the default is models/general6)"
        );

        var (result, _, stderr) = await RunBenchLiveAsync(recording, 3);

        var point = AssertPoint(result, streams: 3, stderr);
        Assert.True(point.GetProperty("mean_batch").GetDouble() >= 1, stderr);
        // In process the engine's own end-to-end p95 is the figure itself.
        Assert.Equal(point.GetProperty("p95_ms").GetDouble(), point.GetProperty("server_p95_ms").GetDouble());
        Assert.True(point.GetProperty("vad_max_batch").GetInt32() >= 0);
    }

    /// <summary>
    /// What bench-live.json promises for one point (docs/benchmarks.md): every stream sent its audio and none was
    /// refused, events came, the latency figures are finite and ordered, and the resource and shedding figures
    /// are in range. Returns the point.
    /// </summary>
    private static JsonElement AssertPoint(JsonElement result, int streams, string stderr)
    {
        var machine = result.GetProperty("machine");
        Assert.Equal(Environment.ProcessorCount, machine.GetProperty("cores").GetInt32());
        Assert.False(string.IsNullOrEmpty(machine.GetProperty("onnxruntime").GetString()));
        Assert.Equal(500, result.GetProperty("objective_p95_ms").GetDouble());
        var point = Assert.Single(result.GetProperty("points").EnumerateArray());
        Assert.Equal(streams, point.GetProperty("streams").GetInt32());
        Assert.Equal(4, point.GetProperty("seconds").GetDouble());
        Assert.Equal(0, point.GetProperty("refused").GetInt32());
        Assert.Equal(1, point.GetProperty("round").GetInt32());
        // 4 s of the call (speech from its first second) on each stream: at least an event per stream.
        Assert.True(point.GetProperty("events").GetInt32() >= streams, stderr);
        var p50 = point.GetProperty("p50_ms").GetDouble();
        var p95 = point.GetProperty("p95_ms").GetDouble();
        var p99 = point.GetProperty("p99_ms").GetDouble();
        var max = point.GetProperty("max_ms").GetDouble();
        Assert.True(
            p50 > 0 && p50 <= p95 && p95 <= p99 && p99 <= max,
            $"p50 {p50}, p95 {p95}, p99 {p99}, max {max}"
        );
        // An event more than 10 s after its audio, on a 4 s stream, would be a stall, not a measurement.
        Assert.True(max < 10_000, $"max {max} ms");
        var inference = point.GetProperty("inference_p95_ms").GetDouble();
        Assert.True(inference > 0 && inference <= max, $"inference p95 {inference} ms");
        Assert.True(point.GetProperty("windows_dropped").GetInt64() >= 0);
        Assert.True(point.GetProperty("cpu_percent").GetDouble() > 0);
        Assert.True(point.GetProperty("peak_working_set_mb").GetDouble() > 0);
        Assert.True(point.GetProperty("audio_shed_seconds").GetDouble() >= 0);
        Assert.InRange(point.GetProperty("audio_shed_share").GetDouble(), 0, 1);
        // The objective column agrees with the figures it summarises.
        Assert.Equal(
            p95 <= 500
                && point.GetProperty("windows_dropped").GetInt64() == 0
                && point.GetProperty("audio_shed_seconds").GetDouble() == 0,
            point.GetProperty("meets_objective").GetBoolean()
        );
        return point;
    }

    /// <summary>StreamingRecognize calls that ended OK, from a /metrics scrape.</summary>
    private static double CallsEndedOk(string metrics) =>
        metrics
            .Split('\n')
            .Where(l =>
                l.StartsWith("ser_grpc_calls_total{", StringComparison.Ordinal)
                && l.Contains(
                    "method=\"realtime_ser.v1.EmotionRecognizer/StreamingRecognize\"",
                    StringComparison.Ordinal
                )
                && l.Contains("code=\"OK\"", StringComparison.Ordinal)
            )
            .Sum(l => double.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Runs one 4-second point of <c>ser bench live</c> and returns its JSON result.</summary>
    private async Task<(JsonElement Result, string Stdout, string Stderr)> RunBenchLiveAsync(
        string recording,
        int streams,
        params string[] extra
    )
    {
        var outDir = Path.Combine(Path.GetTempPath(), $"ser-bench-live-{Guid.NewGuid():N}");
        try
        {
            var (exit, stdout, stderr) = await CliRunner.RunAsync([
                "bench",
                "live",
                recording,
                .. extra,
                "--streams",
                streams.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--seconds",
                "4",
                "--out",
                outDir,
            ]);
            Assert.True(exit == 0, stderr + stdout);
            var json = await File.ReadAllTextAsync(Path.Combine(outDir, "bench-live.json"));
            output.WriteLine(json);
            using var result = JsonDocument.Parse(json);
            return (result.RootElement.Clone(), stdout, stderr);
        }
        finally
        {
            if (Directory.Exists(outDir))
            {
                Directory.Delete(outDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Bench_live_with_an_unreachable_server_is_a_clear_error()
    {
        var recording = Path.Combine(Path.GetTempPath(), $"ser-bench-silence-{Guid.NewGuid():N}.wav");
        WriteSilence(recording, seconds: 1);
        try
        {
            var (exit, _, stderr) = await CliRunner.RunAsync(
                "bench",
                "live",
                recording,
                "--server",
                "http://127.0.0.1:1",
                "--seconds",
                "1"
            );
            Assert.Equal(1, exit);
            Assert.Contains("cannot use the server at", stderr);
        }
        finally
        {
            File.Delete(recording);
        }
    }

    internal static void WriteSilence(string path, double seconds)
    {
        const int rate = 16000;
        using var writer = new WaveFileWriter(path, new WaveFormat(rate, 16, 1));
        writer.Write(new byte[(int)(rate * seconds) * 2]);
    }
}
