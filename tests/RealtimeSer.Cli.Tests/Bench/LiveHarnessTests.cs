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
                        ? ([new LiveSample(20, 5, 1), new LiveSample(30, 5, 1)], 0, 0, false)
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
                    ([new LiveSample(20, 5, 1)], 0, 0, false)
                ),
            CancellationToken.None
        );
        Assert.Equal(0, served.Refused);
        Assert.True(served.MeetsObjective);
    }
}
