using System.Diagnostics;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using RealtimeSer.Tests.Fakes;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Pipeline;

/// <summary>
/// Real CPU overload with the real Silero VAD (the stage that saturates first): several times more live
/// streams, paced at real time, than this machine's cores can run VAD for. Shedding must keep the latency
/// of what is analysed bounded, count what it skips, and stop once the load falls.
/// </summary>
public sealed class LiveOverloadTests(ITestOutputHelper output) : IDisposable
{
    private const int BlockMs = 20;
    private readonly SileroVadModel _vad = SileroVadModel.Load(TestPaths.RequireVadModel());

    public void Dispose() => _vad.Dispose();

    /// <summary>Streams that would take this many cores of VAD: several times what the machine has.</summary>
    private int StreamsForOverload(double cores)
    {
        var state = new SileroVadState();
        var frame = new float[SileroVadModel.FrameSamples];
        for (var i = 0; i < 50; i++)
        {
            _vad.Process(state, frame);
        }
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 300; i++)
        {
            _vad.Process(state, frame);
        }
        var perSecondOfAudio = clock.Elapsed.TotalSeconds / 300 * (16000.0 / SileroVadModel.FrameSamples);
        var streams = (int)Math.Ceiling(cores / perSecondOfAudio);
        output.WriteLine(
            $"VAD: {1000 * perSecondOfAudio:F2} ms of CPU per second of audio → {streams} streams"
        );
        return Math.Clamp(streams, 64, 6000);
    }

    private static async Task<(List<double> Latencies, double Shed)> RunLiveAsync(
        EmotionEngine engine,
        float[] audio,
        int streams,
        TimeSpan duration
    )
    {
        var latencies = new List<double>();
        double shed = 0;
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
                            var mine = new List<double>();
                            await foreach (var e in stream.Events.ReadAllAsync())
                            {
                                if (e is EmotionEvent emotion)
                                {
                                    mine.Add(emotion.Latency.EndToEndMs);
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
                                await Task.Delay(due);
                            }
                        }
                        await stream.CompleteAsync();
                        var mine = await reader;
                        lock (latencies)
                        {
                            latencies.AddRange(mine);
                            shed += stream.AudioSecondsShed;
                        }
                    })
                )
        );
        return (latencies, shed);
    }

    private static double P95(List<double> values) =>
        values.Count == 0 ? 0 : values.Order().ElementAt((int)Math.Ceiling(0.95 * values.Count) - 1);

    [SkippableFact]
    public async Task Past_capacity_live_streams_shed_audio_keep_latency_bounded_and_recover_when_load_falls()
    {
        var audio = TestAudio.Conversation(TestAudio.FixtureClips(6), 1);
        var options = new EngineOptions
        {
            Overload = OverloadPolicy.DropOldest,
            MaxBacklogSeconds = 0.3,
            InterimResults = true,
        };
        await using var engine = new EmotionEngine(new FakeClassifier(), _vad, options);
        var streams = StreamsForOverload(3.0 * Environment.ProcessorCount);

        var duration = TimeSpan.FromSeconds(10);
        var (latencies, shed) = await RunLiveAsync(engine, audio, streams, duration);
        var p95 = P95(latencies);
        output.WriteLine(
            $"{streams} streams: {latencies.Count} events, p95 {p95:F0} ms, shed {shed:F1} s of {streams * duration.TotalSeconds} s"
        );
        Assert.True(shed > 0, "overload must shed live audio");
        Assert.NotEmpty(latencies);
        // What this test can pin without timing the machine is that latency stops growing with the run's
        // length. Unbounded, a backlog at 3× capacity grows by two thirds of every second: 6.7 s after 10 s,
        // more when other test processes share the cores. Shed, it stays at the backlog bound plus CPU
        // contention (0.5–2.8 s measured here, depending on what else ran). The figure against the 500 ms
        // objective is measured by `ser bench live`, on an otherwise idle machine.
        Assert.True(
            p95 < 0.4 * duration.TotalMilliseconds,
            $"p95 {p95:F0} ms under overload: latency grew with the run instead of staying bounded"
        );

        // Load falls: one stream, (almost) nothing shed, latency within the objective. A chunk or two may
        // still be shed when this machine is busy with other work.
        (latencies, shed) = await RunLiveAsync(engine, audio, 1, TimeSpan.FromSeconds(4));
        output.WriteLine($"after: {latencies.Count} events, p95 {P95(latencies):F0} ms, shed {shed:F2} s");
        Assert.True(shed <= 0.1, $"{shed:F2} s of 4 s shed after the load fell");
        Assert.NotEmpty(latencies);
        Assert.True(P95(latencies) < 500, $"p95 {P95(latencies):F0} ms after the load fell");
    }
}
