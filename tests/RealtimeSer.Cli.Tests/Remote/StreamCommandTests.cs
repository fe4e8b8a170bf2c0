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
            Assert.Equal(1, exit);
            Assert.Equal(
                "ser: cannot connect to 127.0.0.1:1 (connection refused): is a `ser serve` running at http://127.0.0.1:1?",
                stderr.Trim()
            );
            Assert.Empty(stdout.Trim());
        }
        finally
        {
            File.Delete(recording);
        }
    }

    [Fact]
    public async Task Reconnect_says_retrying_while_no_server_answers_and_never_reconnected()
    {
        var recording = Path.Combine(Path.GetTempPath(), $"ser-stream-{Guid.NewGuid():N}.wav");
        RemoteBenchLiveTests.WriteSilence(recording, seconds: 1);
        try
        {
            var (exit, _, stderr) = await CliRunner.RunAsync(
                "stream",
                recording,
                "--server",
                "http://127.0.0.1:1",
                "--reconnect",
                "--reconnect-attempts",
                "2"
            );

            Assert.Equal(1, exit);
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            Assert.Matches(
                @"^ser: cannot connect to 127\.0\.0\.1:1 \(connection refused\); retrying in \d+ ms \(attempt 1 of 2\)$",
                lines[0]
            );
            Assert.Matches(@"retrying in \d+ ms \(attempt 2 of 2\)$", lines[1]);
            Assert.StartsWith(
                "ser: cannot connect to 127.0.0.1:1 (connection refused); gave up after 2 attempts",
                lines[2],
                StringComparison.Ordinal
            );
            Assert.DoesNotContain("reconnected", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(recording);
        }
    }

    [Fact]
    public async Task Replay_through_a_server_that_is_not_there_is_one_clear_failure_not_a_cancellation()
    {
        var recording = Path.Combine(Path.GetTempPath(), $"ser-replay-{Guid.NewGuid():N}.wav");
        var results = Path.Combine(Path.GetTempPath(), $"ser-replay-out-{Guid.NewGuid():N}");
        RemoteBenchLiveTests.WriteSilence(recording, seconds: 1);
        try
        {
            var (exit, _, stderr) = await CliRunner.RunAsync(
                "replay",
                recording,
                "--out",
                results,
                "--server",
                "http://127.0.0.1:1"
            );

            Assert.Equal(1, exit);
            Assert.Equal(
                "ser: cannot connect to 127.0.0.1:1 (connection refused): is a `ser serve` running at http://127.0.0.1:1?",
                stderr.Trim()
            );
        }
        finally
        {
            File.Delete(recording);
            if (Directory.Exists(results))
            {
                Directory.Delete(results, recursive: true);
            }
        }
    }

    [SkippableFact]
    public async Task Stream_fast_and_replay_through_the_same_server_give_the_same_events_with_the_file_named()
    {
        // The clip where the two once placed a window 42 ms apart: a segment shorter than a window, ended
        // in a different message of each.
        var clip = CliRunner.RequireShared("fixtures/clips/1055_TIE_ANG_XX.wav");
        await using var server = await RemoteServer.StartAsync();
        var results = Path.Combine(Path.GetTempPath(), $"ser-replay-out-{Guid.NewGuid():N}");
        try
        {
            var stream = await CliRunner.RunAsync("stream", clip, "--server", server.Url, "--fast", "--json");
            Assert.True(stream.Exit == 0, stream.Err);
            var replay = await CliRunner.RunAsync(
                "replay",
                clip,
                "--out",
                results,
                "--server",
                server.Url,
                "--quiet"
            );
            Assert.True(replay.Exit == 0, replay.Err);

            var streamed = Events(stream.Out);
            var replayed = Events(File.ReadAllText(Path.Combine(results, "1055_TIE_ANG_XX.jsonl")));
            Assert.NotEmpty(streamed);
            Assert.Equal(replayed, streamed);
            // The replay schema, "file" included.
            Assert.All(
                stream.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries),
                l => Assert.Equal(clip, JsonDocument.Parse(l).RootElement.GetProperty("file").GetString())
            );
        }
        finally
        {
            if (Directory.Exists(results))
            {
                Directory.Delete(results, recursive: true);
            }
        }

        static List<string> Events(string jsonl) =>
            jsonl
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .Select(e =>
                    $"{e.GetProperty("channel")} {e.GetProperty("segment")} {e.GetProperty("start_s")}-{e.GetProperty("end_s")} "
                    + $"{e.GetProperty("final")} {e.GetProperty("label")} {e.GetProperty("scores")}"
                )
                .ToList();
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
