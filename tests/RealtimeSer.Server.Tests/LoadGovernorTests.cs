using Grpc.Core;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Shared;

namespace RealtimeSer.Server.Tests;

/// <summary>Adaptive admission: refuse while live p95 is over the objective or audio is shed; recover after.</summary>
public sealed class LoadGovernorTests
{
    private static (LoadGovernor, ManualClock) Create()
    {
        var clock = new ManualClock();
        var options = new ServerOptions { LatencyObjectiveMs = 500, AdmissionWindowSeconds = 5 };
        return (new LoadGovernor(options, clock), clock);
    }

    [Fact]
    public void Latency_over_the_objective_refuses_until_it_falls_under_eighty_percent_of_it()
    {
        var (governor, clock) = Create();
        using var _ = governor;
        Assert.Null(governor.RefusalReason(0));
        for (var i = 0; i < 100; i++)
        {
            governor.ObserveLatency(i < 90 ? 100 : 900); // p95 = 900 ms
        }
        var reason = governor.RefusalReason(0);
        Assert.NotNull(reason);
        Assert.Contains("900 ms", reason, StringComparison.Ordinal);
        Assert.Contains("retry in 5 s", reason, StringComparison.Ordinal);
        Assert.Equal(900, governor.LiveP95Ms);

        // 5 s later the old samples are out of the window; 450 ms is under the objective but not under 80 %.
        clock.Advance(6);
        for (var i = 0; i < 100; i++)
        {
            governor.ObserveLatency(450);
        }
        Assert.True(governor.Overloaded);
        clock.Advance(6);
        for (var i = 0; i < 100; i++)
        {
            governor.ObserveLatency(300);
        }
        Assert.False(governor.Overloaded);
        Assert.Null(governor.RefusalReason(0));
    }

    [Fact]
    public void Shedding_refuses_for_one_window_and_an_idle_server_admits()
    {
        var (governor, clock) = Create();
        using var _ = governor;
        governor.ObserveLatency(50);
        governor.ObserveShed(0.5); // one stalled chunk on a few streams: not an overload
        Assert.Null(governor.RefusalReason(0));
        governor.ObserveShed(1.0);
        Assert.Contains("shed 1.5 s of audio", governor.RefusalReason(0), StringComparison.Ordinal);
        clock.Advance(4);
        Assert.True(governor.Overloaded);
        clock.Advance(2); // no events, nothing shed within the window
        Assert.False(governor.Overloaded);
        Assert.Equal(0, governor.LiveP95Ms);
    }

    [Fact]
    public void While_overloaded_streams_are_admitted_up_to_ninety_percent_of_the_load_that_caused_it_and_the_limit_falls_while_it_lasts()
    {
        var (governor, clock) = Create();
        using var _ = governor;
        var active = 40;
        governor.ActiveStreams = () => active;
        for (var i = 0; i < 100; i++)
        {
            governor.ObserveLatency(900); // 40 streams: p95 900 ms
        }
        // The 40 streams end; a new wave of callers arrives inside the same window.
        active = 0;
        Assert.Null(governor.RefusalReason(0));
        Assert.Equal(36, governor.StreamLimit);
        Assert.Null(governor.RefusalReason(35));
        var reason = governor.RefusalReason(36);
        Assert.NotNull(reason);
        Assert.Contains("no more than 36 streams", reason, StringComparison.Ordinal);

        // A window later, 36 admitted and still over the objective: 10 % fewer.
        active = 36;
        clock.Advance(6);
        for (var i = 0; i < 100; i++)
        {
            governor.ObserveLatency(700);
        }
        Assert.Equal(32, governor.StreamLimit);
        Assert.NotNull(governor.RefusalReason(32));
        Assert.Null(governor.RefusalReason(31));

        // Recovered: no limit.
        clock.Advance(6);
        for (var i = 0; i < 100; i++)
        {
            governor.ObserveLatency(100);
        }
        Assert.Equal(-1, governor.StreamLimit);
        Assert.Null(governor.RefusalReason(500));
    }

    [SkippableFact]
    public async Task An_overloaded_server_refuses_new_streams_with_RESOURCE_EXHAUSTED_and_admits_after_recovery()
    {
        await using var server = await StartOverloadedAsync(windowSeconds: 60);
        var (_, status) = await server.StreamAsync(TestServer.MulawStereo(), new byte[1600], paced: false);
        Assert.Equal(StatusCode.ResourceExhausted, status.StatusCode);
        Assert.Contains("overloaded", status.Detail, StringComparison.Ordinal);
        Assert.Contains("400 ms", status.Detail, StringComparison.Ordinal);
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(
            new Uri($"http://127.0.0.1:{server.Server.MetricsPort}/metrics")
        );
        Assert.Equal(1, Scrape.Value(metrics, "ser_admission_refused_total"));
        Assert.Equal(1, Scrape.Value(metrics, "ser_admission_overloaded"));
        Assert.Equal(0.4, Scrape.Value(metrics, "ser_admission_live_latency_p95_seconds"), 6);
        Assert.Equal(
            1,
            Scrape.Value(
                metrics,
                "ser_grpc_calls_total",
                ("method", "realtime_ser.v1.EmotionRecognizer/StreamingRecognize"),
                ("code", "RESOURCE_EXHAUSTED")
            )
        );

        // Live latency comes back under 80 % of the objective: recovered.
        for (var i = 0; i < 1000; i++)
        {
            server.Server.Governor.ObserveLatency(20);
        }
        Assert.False(server.Server.Governor.Overloaded);
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture()).AsSpan(0, 16000 * 5).ToArray();
        (var responses, status) = await server.StreamAsync(TestServer.MulawStereo(), audio, paced: false);
        Assert.Equal(StatusCode.OK, status.StatusCode);
        Assert.Contains(responses, r => r.Result is not null);
    }

    /// <summary>A server with adaptive admission whose live p95 (400 ms) is far over its 100 ms objective.</summary>
    internal static async Task<TestServer> StartOverloadedAsync(double windowSeconds)
    {
        var server = await TestServer.StartAsync(o =>
        {
            o.AdaptiveAdmission = true;
            o.LatencyObjectiveMs = 100;
            o.AdmissionWindowSeconds = windowSeconds;
        });
        // Live latency as the governor sees it from live streams' events.
        for (var i = 0; i < 20; i++)
        {
            server.Server.Governor.ObserveLatency(400);
        }
        return server;
    }
}
