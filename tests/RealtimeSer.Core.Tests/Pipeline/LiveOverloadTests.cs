using System.Diagnostics;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using RealtimeSer.Tests.Fakes;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Pipeline;

/// <summary>
/// Real CPU overload with the real Silero VAD: more live streams, paced at real time, than this machine's cores
/// can serve. Shedding must keep the latency
/// of what is analysed bounded, count what it skips, and stop once the load falls.
/// </summary>
[Collection(Collection)]
public sealed class LiveOverloadTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>
    /// Tests that need the stream work of their own engine done in time run apart from this one, which
    /// saturates the cores on purpose.
    /// </summary>
    public const string Collection = "live overload";

    private const int BlockMs = 20;

    /// <summary>Most streams the test opens; enough to overload <see cref="MaxCores"/> cores.</summary>
    private const int MaxStreams = 2000;

    private const int MaxCores = 4;
    private readonly SileroVadModel _vad = SileroVadModel.Load(TestPaths.RequireVadModel());

    public void Dispose() => _vad.Dispose();

    /// <summary>
    /// Streams enough to overload up to <see cref="MaxCores"/> cores: those that would take this many cores of
    /// per-frame VAD, kept between 1000 and <see cref="MaxStreams"/>.
    /// </summary>
    private int StreamsForOverload(double cores)
    {
        var state = new SileroVadState();
        var frame = new float[SileroVadModel.FrameSamples];
        for (var i = 0; i < 50; i++)
        {
            _vad.Process(state, frame);
        }
        // The fastest of several rounds: other processes on these cores inflate a single timing several-fold,
        // and an inflated timing asks for too few streams to overload anything.
        var fastest = double.MaxValue;
        for (var round = 0; round < 6; round++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < 50; i++)
            {
                _vad.Process(state, frame);
            }
            fastest = Math.Min(fastest, clock.Elapsed.TotalSeconds / 50);
        }
        var perSecondOfAudio = fastest * (16000.0 / SileroVadModel.FrameSamples);
        var streams = (int)Math.Ceiling(cores / perSecondOfAudio);
        output.WriteLine(
            $"VAD: {1000 * perSecondOfAudio:F2} ms of CPU per second of audio → {streams} streams"
        );
        // The VAD is not most of a stream's cost, so the timing is only a guide: on a busy machine it asks for too
        // few streams, on an idle one for more than the cores hold. 1000 to 2000 streams overload up to four cores
        // in both VAD modes; memory bounds the count (about 0.75 MB a stream under overload).
        return Math.Clamp(streams, 1000, MaxStreams);
    }

    /// <summary>
    /// Every event's latency, with the second of the run it arrived in; the audio shed; how many streams got
    /// any event.
    /// </summary>
    private static async Task<(
        List<(double At, double Ms, bool Final)> Latencies,
        double Shed,
        int Served
    )> RunLiveAsync(EmotionEngine engine, float[] audio, int streams, TimeSpan duration)
    {
        var latencies = new List<(double At, double Ms, bool Final)>();
        var run = Stopwatch.StartNew();
        double shed = 0;
        var served = 0;
        var random = new Random(7);
        var offsets = Enumerable.Range(0, streams).Select(_ => random.Next(audio.Length)).ToArray();
        await Task.WhenAll(
            Enumerable
                .Range(0, streams)
                .Select(s =>
                    Task.Run(async () =>
                    {
                        await using var stream = engine.OpenStream($"live{s}", new StreamFormat(16000, 1));
                        var reader = Task.Run(async () =>
                        {
                            var mine = new List<(double At, double Ms, bool Final)>();
                            await foreach (var e in stream.Events.ReadAllAsync())
                            {
                                if (e is EmotionEvent emotion)
                                {
                                    mine.Add(
                                        (
                                            run.Elapsed.TotalSeconds,
                                            emotion.Latency.EndToEndMs,
                                            emotion.IsFinal
                                        )
                                    );
                                }
                            }
                            return mine;
                        });
                        var block = 16000 * BlockMs / 1000;
                        var started = Stopwatch.GetTimestamp();
                        var sent = 0;
                        while (sent * BlockMs < duration.TotalMilliseconds)
                        {
                            var offset = (offsets[s] + sent * block) % (audio.Length - block);
                            await stream.WriteAsync(audio.AsMemory(offset, block), Stopwatch.GetTimestamp());
                            sent++;
                            var due =
                                TimeSpan.FromMilliseconds(sent * BlockMs) - Stopwatch.GetElapsedTime(started);
                            if (due > TimeSpan.Zero)
                            {
                                await Task.Delay(due); // pacing at real time: live sources
                            }
                        }
                        await stream.CompleteAsync();
                        var mine = await reader;
                        lock (latencies)
                        {
                            latencies.AddRange(mine);
                            shed += stream.AudioSecondsShed;
                            served += mine.Count > 0 ? 1 : 0;
                        }
                    })
                )
        );
        return (latencies, shed, served);
    }

    private static double P95(IEnumerable<(double At, double Ms, bool Final)> events)
    {
        var values = events.Select(e => e.Ms).Order().ToList();
        return values.Count == 0 ? 0 : values[(int)Math.Ceiling(0.95 * values.Count) - 1];
    }

    // Batched VAD at this load served 106 of 118 streams alone but 3 of 340 in a full test run before the streams'
    // own work ran by seniority (SeniorityScheduler; docs/reliability.md): the full run is where it is pinned.
    [SkippableTheory]
    [InlineData(0)] // each channel runs its own Silero frames
    [InlineData(64)] // channels' frames share Silero runs
    public async Task Past_capacity_live_streams_shed_audio_keep_latency_bounded_and_recover_when_load_falls(
        int vadMaxBatch
    )
    {
        Skip.If(
            Environment.ProcessorCount > MaxCores,
            $"this machine has {Environment.ProcessorCount} cores: overloading them would take more live streams than "
                + $"this test's {MaxStreams} (about 0.75 MB each); it runs where there are {MaxCores} or fewer (CI has 2)"
        );
        var audio = TestAudio.Conversation(TestAudio.FixtureClips(6), 1);
        var options = new EngineOptions
        {
            Overload = OverloadPolicy.DropOldest,
            MaxBacklogSeconds = 0.3,
            Streams = new StreamOptions { InterimResults = true },
            VadMaxBatch = vadMaxBatch,
        };
        await using var engine = new EmotionEngine(new FakeClassifier(), _vad, options);
        var streams = StreamsForOverload(3.0 * Environment.ProcessorCount);

        var duration = TimeSpan.FromSeconds(12);
        var (latencies, shed, served) = await RunLiveAsync(engine, audio, streams, duration);
        var p95 = P95(latencies);
        // Bounded means not growing with the run. Unbounded at 3× capacity, the backlog grows by two thirds of
        // every second, so the last third's p95 would be 2.7 s above the middle third's. Shed, both sit
        // at the bound plus whatever CPU contention adds (other test processes share these cores), which
        // moves both thirds alike. The figure against the 500 ms objective is `ser bench live`'s, measured on an
        // otherwise idle machine.
        var third = duration.TotalSeconds / 3;
        var middle = P95(latencies.Where(e => e.At >= third && e.At < 2 * third));
        var last = P95(latencies.Where(e => e.At >= 2 * third));
        output.WriteLine(
            $"{streams} streams, {served} with events: {latencies.Count} events, p95 {p95:F0} ms (middle third {middle:F0}, last third "
                + $"{last:F0}), shed {shed:F1} s of {streams * duration.TotalSeconds} s"
        );
        var late = latencies.Where(e => e.Ms > 1000).ToList();
        output.WriteLine(
            $"over 1 s: {late.Count(e => !e.Final)} interim, {late.Count(e => e.Final)} finals"
                + (
                    late.Count == 0
                        ? ""
                        : $" (latest at {late.Max(e => e.At):F1} s of the run, worst {late.Max(e => e.Ms):F0} ms)"
                )
        );
        Assert.True(shed > 0, "overload must shed live audio");
        // Shedding that spreads the shortfall over every stream serves none: each keeps fragments too short for a
        // window (first-come batched VAD did that: 8 events from 285 streams in 12 s). Shedding that serves some
        // streams whole serves about as many as the audio it kept would fill. How much it can keep depends on the
        // share of these cores the other test processes leave (55 streams' worth of 640 in a CI run, 2026-12-02),
        // so the bar is set against what was kept, not against the number of streams.
        var keptStreams = (streams * duration.TotalSeconds - shed) / duration.TotalSeconds;
        output.WriteLine($"kept audio fills {keptStreams:F1} streams; {served} got an event");
        Assert.True(keptStreams >= 1, $"only {keptStreams:F2} streams' worth of audio was analysed at all");
        Assert.True(
            served >= keptStreams / 2,
            $"only {served} of {streams} streams got an event although the audio kept would fill {keptStreams:F0}: "
                + "shedding spread the shortfall over every stream instead of serving some whole"
        );
        // The finals of starved streams once failed this (CI, 2026-12-02: last third 3181 ms against 231): when the
        // writers completed, every starved stream caught up at once and ended its open segment in stale audio,
        // and those finals came 3-6 s after their audio. They are no longer sent (ChannelState.RegisterSegmentEnd).
        Assert.True(
            last < middle + 1500,
            $"p95 {last:F0} ms in the last third against {middle:F0} ms in the middle one: latency grew with the run"
        );

        // Load falls: one stream, (almost) nothing shed, latency within the objective. A few chunks may still be
        // shed when other processes on these cores starve the stream past its 0.3 s bound for a moment; shedding
        // that went on would lose most of the 4 s, as the overload above did.
        (latencies, shed, _) = await RunLiveAsync(engine, audio, 1, TimeSpan.FromSeconds(4));
        output.WriteLine($"after: {latencies.Count} events, p95 {P95(latencies):F0} ms, shed {shed:F2} s");
        Assert.True(shed <= 1.0, $"{shed:F2} s of 4 s shed after the load fell");
        Assert.NotEmpty(latencies);
        Assert.True(P95(latencies) < 500, $"p95 {P95(latencies):F0} ms after the load fell");
    }
}
