using System.Text.Json;
using NAudio.Wave;

namespace RealtimeSer.Cli.Tests.Remote;

/// <summary><c>ser bench live --server</c>: the live benchmark against a running server.</summary>
public class RemoteBenchLiveTests
{
    [SkippableFact]
    public async Task Bench_live_against_a_server_measures_every_stream()
    {
        var recording = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        await using var server = await RemoteServer.StartAsync();

        var (result, stdout, stderr) = await RunBenchLiveAsync(recording, 2, "--server", server.Url);

        Assert.Equal(server.Url, result.GetProperty("server").GetString());
        var point = Assert.Single(result.GetProperty("points").EnumerateArray());
        Assert.Equal(2, point.GetProperty("streams").GetInt32());
        Assert.True(point.GetProperty("events").GetInt32() > 0, stderr);
        Assert.True(point.GetProperty("p50_ms").GetDouble() > 0, stderr);
        Assert.Contains("client CPU %", stdout);
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

        var point = Assert.Single(result.GetProperty("points").EnumerateArray());
        Assert.Equal(3, point.GetProperty("streams").GetInt32());
        Assert.True(point.GetProperty("events").GetInt32() > 0, stderr);
        Assert.True(point.GetProperty("p50_ms").GetDouble() > 0, stderr);
        Assert.True(point.GetProperty("p95_ms").GetDouble() >= point.GetProperty("p50_ms").GetDouble());
        Assert.True(point.GetProperty("mean_batch").GetDouble() >= 1, stderr);
    }

    /// <summary>Runs one 4-second point of <c>ser bench live</c> and returns its JSON result.</summary>
    private static async Task<(JsonElement Result, string Stdout, string Stderr)> RunBenchLiveAsync(
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
            using var result = JsonDocument.Parse(
                await File.ReadAllTextAsync(Path.Combine(outDir, "bench-live.json"))
            );
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
