using RealtimeSer.Cli.Bench;

namespace RealtimeSer.Cli.Tests.Bench;

/// <summary>What the live benchmark makes of calls the server refused: counted, and never "meets the objective".</summary>
public sealed class LiveHarnessTests
{
    [Fact]
    public async Task Refused_calls_are_counted_and_a_point_with_refusals_misses_the_objective()
    {
        var point = await LiveHarness.RunAsync(
            streams: 4,
            recordingFrames: 16000,
            duration: TimeSpan.FromSeconds(1),
            objectiveP95Ms: 500,
            (stream, _) =>
                Task.FromResult<(IReadOnlyList<LiveSample>, long, double, bool)>(
                    stream % 2 == 0
                        ? ([new LiveSample(20, 5, 1, 15), new LiveSample(30, 5, 1, 25)], 0, 0, false)
                        : ([], 0, 0, true)
                ),
            CancellationToken.None
        );

        Assert.Equal(2, point.Refused);
        Assert.Equal(4, point.Events);
        Assert.False(point.MeetsObjective, "half the callers were refused: that is not capacity");

        var served = await LiveHarness.RunAsync(
            2,
            16000,
            TimeSpan.FromSeconds(1),
            500,
            (_, _) =>
                Task.FromResult<(IReadOnlyList<LiveSample>, long, double, bool)>(
                    ([new LiveSample(20, 5, 1, 15)], 0, 0, false)
                ),
            CancellationToken.None
        );
        Assert.Equal(0, served.Refused);
        Assert.True(served.MeetsObjective);
    }

    [Fact]
    public async Task The_servers_own_p95_comes_from_the_results_that_report_it()
    {
        // Through a server, the client's latency includes the transport; the server's own end-to-end time
        // (latency.end_to_end_ms) is what its bounds hold. Results without it (NaN) are left out, not zeros.
        var point = await LiveHarness.RunAsync(
            1,
            16000,
            TimeSpan.FromSeconds(1),
            500,
            (_, _) =>
                Task.FromResult<(IReadOnlyList<LiveSample>, long, double, bool)>(
                    (
                        [
                            .. Enumerable.Range(1, 20).Select(k => new LiveSample(100 + k, 5, 1, k)),
                            new LiveSample(400, 5, 1, double.NaN),
                        ],
                        0,
                        0,
                        false
                    )
                ),
            CancellationToken.None
        );
        Assert.Equal(21, point.Events);
        Assert.InRange(point.ServerP95Ms, 19, 20);
        Assert.True(point.P95Ms > 100, $"client p95 {point.P95Ms}");
    }
}

public sealed class RemoteLatencyPointTests
{
    [Fact]
    public void A_final_counts_from_its_last_window_when_that_reaches_past_the_segment_end()
    {
        var ends = new Dictionary<(int Channel, int Segment), double>();
        // A short segment (10.0–10.4 s) judged by one 2 s window centred on it: 9.2–11.2 s.
        Assert.Equal(11.2, RemoteLiveBench.LatencyPoint(Result(false, 0, 3, 11.2), ends));
        Assert.Equal(11.2, RemoteLiveBench.LatencyPoint(Result(true, 0, 3, 10.4), ends));
        // The other channel's segment is its own; a long segment's tail window ends at the segment's end.
        Assert.Equal(30.0, RemoteLiveBench.LatencyPoint(Result(false, 1, 3, 30.0), ends));
        Assert.Equal(30.0, RemoteLiveBench.LatencyPoint(Result(true, 1, 3, 30.0), ends));
        // Without interims (or after its segment's final), a final counts from the segment's end.
        Assert.Equal(10.4, RemoteLiveBench.LatencyPoint(Result(true, 0, 3, 10.4), ends));
        Assert.Empty(ends);
    }

    private static RealtimeSer.Grpc.V1.EmotionResult Result(
        bool final,
        int channel,
        int segment,
        double end
    ) =>
        new()
        {
            IsFinal = final,
            Channel = channel,
            Segment = segment,
            EndSeconds = end,
        };
}
