using System.Diagnostics;
using Grpc.Core;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// Capacity is made small and deterministic with a fake model that costs 100 ms per window (batches of
/// one). The test measures it (windows per second the server gets through when saturated, and windows per
/// second one real-time stream needs), then loads three times that many real-time streams under each
/// overload policy, then checks the server recovers by itself.
/// </summary>
[Collection(RobustnessCollection.Name)]
public sealed class OverloadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan PerBatch = TimeSpan.FromMilliseconds(100);
    private const double LatencyObjectiveMs = 1500;

    private static EngineOptions Engine() =>
        new()
        {
            Overload = OverloadPolicy.DropOldest,
            MaxBatch = 1,
            QueueCapacity = 2,
        };

    [SkippableFact]
    public async Task At_three_times_capacity_streams_are_refused_or_windows_dropped_latency_holds_and_it_recovers()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        var clip = Streams.Slice(audio, 1, 6);

        // 1. Measure: saturate with unpaced streams; demand from one stream's windows per audio second.
        int capacityStreams;
        double capacity,
            demand;
        {
            var slow = new SlowClassifier(PerBatch);
            await using var server = await TestServer.StartAsync(classifier: slow, engineOptions: Engine());
            var clock = Stopwatch.StartNew();
            var saturating = await Task.WhenAll(
                Enumerable
                    .Range(0, 4)
                    .Select(i =>
                        Streams.RunAsync(
                            server.Client,
                            Streams.MulawStereo(),
                            Streams.Slice(audio, i * 8, 30),
                            paced: false
                        )
                    )
            );
            capacity = slow.Windows / clock.Elapsed.TotalSeconds;
            demand =
                saturating.Sum(s => s.Classified + s.Dropped)
                / saturating.Sum(s =>
                    s.Responses.Last(r => r.StreamStats is not null).StreamStats.AudioSeconds
                );
            capacityStreams = Math.Max(1, (int)Math.Floor(capacity / demand));
            output.WriteLine(
                $"capacity: {capacity:F1} windows/s saturated ({slow.Windows} windows in {clock.Elapsed.TotalSeconds:F1} s); "
                    + $"one real-time stereo stream needs {demand:F2} windows/s → {capacityStreams} real-time streams"
            );
        }
        var load = 3 * capacityStreams;

        // 2a. Admission policy: the stream limit is the capacity; the rest are refused, admitted ones keep latency.
        {
            var slow = new SlowClassifier(PerBatch);
            await using var server = await TestServer.StartAsync(
                o => o.MaxConcurrentStreams = capacityStreams,
                slow,
                Engine()
            );
            var before = ResourceSample.Take();
            var outcomes = await Task.WhenAll(
                Enumerable
                    .Range(0, load)
                    .Select(i =>
                        Streams.RunAsync(
                            server.Client,
                            Streams.MulawStereo(),
                            Streams.Slice(audio, i % 10 * 3, 6),
                            paced: true
                        )
                    )
            );
            var admitted = outcomes.Where(o => o.Status.StatusCode == StatusCode.OK).ToList();
            var refused = outcomes.Count(o => o.Status.StatusCode == StatusCode.ResourceExhausted);
            var latencies = admitted.SelectMany(o => o.Results).Select(r => r.Latency.EndToEndMs).ToList();
            var p95 = Streams.Percentile(latencies, 0.95);
            var after = ResourceSample.Take();
            output.WriteLine(
                $"admission policy, {load} streams at 3× capacity: {admitted.Count} admitted, {refused} refused with RESOURCE_EXHAUSTED; "
                    + $"admitted: {admitted.Sum(o => o.Dropped)} windows dropped, {latencies.Count} results, end-to-end p95 {p95:F0} ms, "
                    + $"max {(latencies.Count > 0 ? latencies.Max() : 0):F0} ms; heap {before.HeapBytes / 1048576.0:F1} → {after.HeapBytes / 1048576.0:F1} MiB"
            );
            Assert.Equal(load, admitted.Count + refused);
            Assert.True(refused >= load - capacityStreams, $"{refused} refused");
            Assert.NotEmpty(latencies);
            Assert.True(
                p95 < LatencyObjectiveMs,
                $"admitted streams' p95 {p95:F0} ms over {LatencyObjectiveMs} ms"
            );
            Assert.True(after.HeapBytes - before.HeapBytes < 64L << 20);
            await server.WaitForNoStreamsAsync();
        }

        // 2b. Drop policy: everyone is admitted, the engine drops the oldest windows and counts them.
        {
            var slow = new SlowClassifier(PerBatch);
            await using var server = await TestServer.StartAsync(
                o =>
                {
                    o.MaxConcurrentStreams = 1000;
                    o.AdaptiveAdmission = true;
                    o.AdmissionWindowSeconds = 1;
                },
                slow,
                Engine()
            );
            var before = ResourceSample.Take();
            var peak = 0L;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    peak = Math.Max(peak, GC.GetTotalMemory(false));
                    await Task.Delay(100); // the sampling interval of the peak
                }
            });
            var outcomes = await Task.WhenAll(
                Enumerable
                    .Range(0, load)
                    .Select(i =>
                        Streams.RunAsync(
                            server.Client,
                            Streams.MulawStereo(),
                            Streams.Slice(audio, i % 10 * 3, 6),
                            paced: true
                        )
                    )
            );
            await sampling.CancelAsync();
            await sampler;
            var dropped = outcomes.Sum(o => o.Dropped);
            var classified = outcomes.Sum(o => o.Classified);
            var latencies = outcomes.SelectMany(o => o.Results).Select(r => r.Latency.EndToEndMs).ToList();
            var p95 = Streams.Percentile(latencies, 0.95);
            output.WriteLine(
                $"drop policy, {load} streams at 3× capacity: all {outcomes.Count(o => o.Status.StatusCode == StatusCode.OK)} OK; "
                    + $"{classified} windows classified, {dropped} dropped and counted; "
                    + $"delivered end-to-end p95 {p95:F0} ms; heap {before.HeapBytes / 1048576.0:F1} MiB, peak {peak / 1048576.0:F1} MiB"
            );
            Assert.All(outcomes, o => Assert.Equal(StatusCode.OK, o.Status.StatusCode));
            Assert.True(dropped > 0, "3× capacity must drop windows");
            Assert.True(p95 < LatencyObjectiveMs, $"delivered p95 {p95:F0} ms over {LatencyObjectiveMs} ms");
            Assert.True(peak - before.HeapBytes < 128L << 20, "memory must stay bounded under overload");
            await server.WaitForNoStreamsAsync();

            // 3. Recovery: load falls to one stream; no drops, latency back within the objective. Adaptive
            // admission still remembers the overload for its window (1 s here), then admits again: wait for that.
            await Poll.UntilAsync(
                () => !server.Server.Governor.Overloaded,
                TimeSpan.FromSeconds(10),
                () =>
                    $"still overloaded: live p95 {server.Server.Governor.LiveP95Ms:F0} ms, limit {server.Server.Governor.StreamLimit}"
            );
            var recovered = await Streams.RunAsync(server.Client, Streams.MulawStereo(), clip, paced: true);
            var recoveredP95 = Streams.Percentile(recovered.Results.Select(r => r.Latency.EndToEndMs), 0.95);
            output.WriteLine(
                $"recovery: one stream after the overload: {recovered.Status.StatusCode}, {recovered.Classified} classified, "
                    + $"{recovered.Dropped} dropped, p95 {recoveredP95:F0} ms"
            );
            Assert.Equal(StatusCode.OK, recovered.Status.StatusCode);
            // The queue holds two windows and a stereo stream brings two at a time, so one window can go while other
            // work (the test assemblies run side by side) holds the cores. A server that had not recovered would
            // drop most of them.
            Assert.True(
                recovered.Dropped <= Math.Max(1, recovered.Classified / 10),
                $"{recovered.Dropped} dropped, {recovered.Classified} classified after the overload"
            );
            Assert.True(recovered.Classified > 0);
            Assert.True(recoveredP95 < LatencyObjectiveMs);
        }
    }

    [SkippableFact]
    public async Task A_recording_streamed_beside_overloading_live_streams_keeps_every_window_and_final()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        // The other tests' 100 ms per window, not less: with 10 ms, a full test run once made the live streams'
        // windows (VAD starved of CPU) arrive slowly enough for the model to keep up, and nothing overloaded.
        var slow = new SlowClassifier(PerBatch);
        await using var server = await TestServer.StartAsync(classifier: slow, engineOptions: Engine());
        var recorded = Streams.MulawStereo();
        recorded.Recorded = true;

        var live = Enumerable
            .Range(0, 4)
            .Select(i =>
                Streams.RunAsync(
                    server.Client,
                    Streams.MulawStereo(),
                    Streams.Slice(audio, i * 5, 12),
                    paced: false
                )
            )
            .ToList();
        var recording = await Streams.RunAsync(
            server.Client,
            recorded,
            Streams.Slice(audio, 0, 20),
            paced: false
        );
        var lives = await Task.WhenAll(live);

        var stats = recording.Responses.Last(r => r.StreamStats is not null).StreamStats;
        output.WriteLine(
            $"recording: {stats.WindowsClassified} windows, {stats.WindowsDropped} dropped, {stats.AudioSecondsShed:F1} s shed; "
                + $"live: {lives.Sum(o => o.Dropped)} of {lives.Sum(o => o.Dropped + o.Classified)} windows dropped"
        );
        Assert.Equal(StatusCode.OK, recording.Status.StatusCode);
        Assert.True(lives.Sum(o => o.Dropped) > 0, "the live streams must overload the queue of two windows");
        Assert.Equal(0, stats.WindowsDropped);
        Assert.Equal(0, stats.AudioSecondsShed);
        Assert.Equal(20, stats.AudioSeconds, 0);
        var starts = recording
            .Responses.Where(r => r.SpeechEvent is { Type: Grpc.V1.SpeechEvent.Types.Type.SpeechStart })
            .Select(r => (r.SpeechEvent.Channel, r.SpeechEvent.Segment))
            .ToHashSet();
        var finals = recording.Results.Where(r => r.IsFinal).Select(r => (r.Channel, r.Segment)).ToHashSet();
        Assert.NotEmpty(starts);
        Assert.Equal(starts, finals);
    }
}
