using System.Text.Json;

namespace RealtimeSer.Cli.Tests.Remote;

/// <summary><c>ser stream FILE --server URL</c>: a file played to a running server as a live stream.</summary>
public class StreamCommandTests
{
    [SkippableFact]
    public async Task Streaming_the_stereo_call_prints_ordered_json_events_for_both_channels()
    {
        var (stdout, stderr) = await StreamCallAsync();

        var events = stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .ToList();
        Assert.NotEmpty(events);
        var labels = new[] { "angry", "disgust", "fear", "happy", "neutral", "sad" };
        foreach (var e in events)
        {
            Assert.Contains(e.GetProperty("label").GetString(), labels);
            var scores = e.GetProperty("scores").EnumerateObject().ToList();
            Assert.Equal(labels.Order(), scores.Select(s => s.Name).Order());
            Assert.InRange(scores.Sum(s => s.Value.GetDouble()), 0.99, 1.01);
            Assert.True(e.GetProperty("end_s").GetDouble() > e.GetProperty("start_s").GetDouble());
        }
        foreach (var channel in new[] { 0, 1 })
        {
            var finals = events
                .Where(e =>
                    e.GetProperty("channel").GetInt32() == channel && e.GetProperty("final").GetBoolean()
                )
                .ToList();
            Assert.NotEmpty(finals);
            // One final per segment, in segment order, each ending no earlier than the one before.
            var segments = finals.Select(f => f.GetProperty("segment").GetInt32()).ToList();
            Assert.Equal(segments.Distinct().Count(), segments.Count);
            Assert.Equal(segments.Order(), segments);
            var ends = finals.Select(f => f.GetProperty("end_s").GetDouble()).ToList();
            Assert.Equal(ends.Order(), ends);
        }
        Assert.Contains("stats:", stderr);
        Assert.Contains("client latency", stderr);
    }

    [SkippableFact]
    public async Task Finals_only_asks_the_server_for_no_interim_results()
    {
        var (stdout, _) = await StreamCallAsync("--finals-only");

        var finals = stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("final").GetBoolean())
            .ToList();
        Assert.NotEmpty(finals);
        Assert.All(finals, Assert.True);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_clear_error()
    {
        var recording = Path.Combine(Path.GetTempPath(), $"ser-stream-{Guid.NewGuid():N}.wav");
        RemoteBenchLiveTests.WriteSilence(recording, seconds: 1);
        try
        {
            // Nothing listens on loopback port 1.
            var (exit, stdout, stderr) = await CliRunner.RunAsync(
                "stream",
                recording,
                "--server",
                "http://127.0.0.1:1"
            );
            Assert.NotEqual(0, exit);
            Assert.StartsWith("ser:", stderr.TrimStart(), StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
            Assert.Empty(stdout.Trim());
        }
        finally
        {
            File.Delete(recording);
        }
    }

    /// <summary>Streams the stereo fixture call to a fresh in-process server, unpaced, as JSON lines.</summary>
    private static async Task<(string Stdout, string Stderr)> StreamCallAsync(params string[] extra)
    {
        var recording = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        await using var server = await RemoteServer.StartAsync();
        var (exit, stdout, stderr) = await CliRunner.RunAsync([
            "stream",
            recording,
            "--server",
            server.Url,
            "--fast",
            "--json",
            .. extra,
        ]);
        Assert.True(exit == 0, stderr + stdout);
        return (stdout, stderr);
    }
}
