using System.Diagnostics;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using RealtimeSer.Tests.Fakes;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Pipeline;

[Collection(LiveOverloadTests.Collection)]
public sealed class EmotionEngineTests(ITestOutputHelper output) : IDisposable
{
    private readonly SileroVadModel _vad = SileroVadModel.Load(TestPaths.RequireVadModel());

    public void Dispose() => _vad.Dispose();

    [SkippableFact]
    public async Task Replay_mode_with_tiny_queue_and_many_streams_loses_nothing_and_routes_every_result()
    {
        var clips = TestAudio.FixtureClips(3);
        var classifier = new FakeClassifier();
        var options = new EngineOptions
        {
            Overload = OverloadPolicy.Wait,
            QueueCapacity = 2,
            MaxBatch = 4,
        };
        await using var engine = new EmotionEngine(classifier, _vad, options);

        const int streams = 12;
        var results = await Task.WhenAll(
            Enumerable
                .Range(0, streams)
                .Select(async s =>
                {
                    var label = s % 4;
                    // Stereo: the right channel carries the next label, so channels must not be mixed up.
                    var left = TestAudio.Conversation(clips, label);
                    var right = TestAudio.Conversation(clips, (label + 1) % 4);
                    var interleaved = new float[left.Length * 2];
                    for (var i = 0; i < left.Length; i++)
                    {
                        interleaved[2 * i] = left[i];
                        interleaved[2 * i + 1] = right[i];
                    }
                    await using var stream = engine.OpenStream($"s{s}", new StreamFormat(16000, 2));
                    var events = await EngineFeed.FeedAsync(stream, interleaved, 1600 * 2);
                    Assert.Equal(0, stream.WindowsDropped);
                    return (label, events);
                })
        );

        foreach (var (label, events) in results)
        {
            for (var channel = 0; channel < 2; channel++)
            {
                var finals = events
                    .OfType<EmotionEvent>()
                    .Where(e => e.IsFinal && e.Channel == channel)
                    .ToList();
                var speechEnds = events.OfType<SpeechEvent>().Count(e => !e.IsStart && e.Channel == channel);
                Assert.Equal(speechEnds, finals.Count);
                Assert.True(
                    finals.Count is >= 3 and <= 6,
                    $"{finals.Count} finals: {string.Join(" ", finals.Select(f => $"{f.StartSeconds:F2}-{f.EndSeconds:F2}"))}"
                );
                Assert.All(finals, f => Assert.Equal($"label{(label + channel) % 4}", f.Label));
                var times = events
                    .OfType<EmotionEvent>()
                    .Where(e => e.Channel == channel)
                    .Select(e => e.StartSeconds)
                    .ToList();
                var segments = events
                    .OfType<EmotionEvent>()
                    .Where(e => e.Channel == channel)
                    .Select(e => e.Segment)
                    .ToList();
                Assert.Equal(segments.Order(), segments);
                Assert.All(finals, f => Assert.True(f.EndSeconds > f.StartSeconds));
                Assert.True(times.Count > finals.Count, "interim events expected");
            }
        }
        Assert.Equal(0, engine.ActiveStreams);
        output.WriteLine($"runs {classifier.Runs}, mean batch {classifier.BatchSizes.Average():F1}");
        Assert.Contains(classifier.BatchSizes, b => b > 1);
    }

    /// <summary>
    /// A live engine that a few streams overload with the 30 ms fake model: one window of queue, a window every
    /// 0.1 s.
    /// </summary>
    private EmotionEngine OverloadedLiveEngine(int maxBatch) =>
        new(
            new FakeClassifier(delay: TimeSpan.FromMilliseconds(30)),
            _vad,
            new EngineOptions
            {
                Overload = OverloadPolicy.DropOldest,
                QueueCapacity = 1,
                MaxBatch = maxBatch,
                Streams = new StreamOptions { HopSeconds = 0.1 },
            }
        );

    [SkippableFact]
    public async Task Live_mode_drops_oldest_windows_when_overloaded_and_counts_them()
    {
        await using var engine = OverloadedLiveEngine(maxBatch: 1);
        var audio = TestAudio.Conversation(TestAudio.FixtureClips(2), 2);

        var runs = await Task.WhenAll(
            Enumerable
                .Range(0, 8)
                .Select(async s =>
                {
                    await using var stream = engine.OpenStream($"live{s}", new StreamFormat(16000, 1));
                    var events = await EngineFeed.FeedAsync(stream, audio, 16000);
                    return (stream.WindowsDropped, stream.WindowsClassified, events);
                })
        );

        var dropped = runs.Sum(r => r.WindowsDropped);
        output.WriteLine($"dropped {dropped}, classified {runs.Sum(r => r.WindowsClassified)}");
        Assert.True(dropped > 0, "overload must drop windows in live mode");
        // Every stream's windows are accounted for (classified or counted as dropped); which streams lose
        // theirs depends on timing.
        Assert.All(runs, r => Assert.True(r.WindowsClassified + r.WindowsDropped > 0));
        Assert.True(runs.Sum(r => r.WindowsClassified) > 0, "some windows must still be classified");
        // What survives is still right, and each final says how many of its windows were lost.
        var finals = runs.SelectMany(r => r.events).OfType<EmotionEvent>().Where(e => e.IsFinal).ToList();
        Assert.NotEmpty(finals);
        Assert.All(finals, f => Assert.Equal("label2", f.Label));
        Assert.Contains(finals, f => f.WindowsDropped > 0);
    }

    /// <summary>
    /// A live stream whose own task was starved (here: 3 s in which the engine took none of its audio) reaches
    /// the audio that arrived meanwhile only after it is older than the bound: shed for age, it ends the open
    /// segment there. That segment's final could only come late (3 s), so it is not sent and the segment counts
    /// as lost; the interim events sent in time stand. The same stall on the sender's side (the audio arrives
    /// late, stamped when it arrives) is shed too, as a backlog past the bound, and ends the segment in time:
    /// that segment gets its final.
    /// </summary>
    /// <remarks>
    /// The bound is 1 s, not the default, so that the speech before the stall is analysed in time even when other
    /// test processes share the cores (at 0.3 s a full test run once left no window of it).
    /// </remarks>
    [SkippableFact]
    public async Task A_segment_whose_end_is_found_in_stale_live_audio_gets_no_late_final_and_counts_as_lost()
    {
        await using var engine = new EmotionEngine(
            new FakeClassifier(),
            _vad,
            new EngineOptions
            {
                Overload = OverloadPolicy.DropOldest,
                // Room for a loaded machine to fall behind before the stall without shedding what came first.
                MaxBacklogSeconds = 1.5,
                Streams = new StreamOptions
                {
                    InterimResults = true,
                    WindowSeconds = 1.0,
                    HopSeconds = 0.25,
                },
            }
        );
        var audio = TestAudio.Conversation(TestAudio.FixtureClips(1), 1);
        const int block = 320; // 20 ms
        var stallAt = 16000 * 3; // 1 s of silence, then 2 s into the clip's speech
        var length = stallAt + 16000 * 5 / 2; // more than the bound arrives during the stall
        var stall = TimeSpan.FromSeconds(4);

        async Task<(EngineStream Stream, List<EngineEvent> Events)> RunAsync(string id, bool engineStarved)
        {
            var stream = engine.OpenStream(id, new StreamFormat(16000, 1));
            var events = new List<EngineEvent>();
            var reader = Task.Run(async () =>
            {
                await foreach (var e in stream.Events.ReadAllAsync())
                {
                    events.Add(e);
                }
            });
            var started = Stopwatch.GetTimestamp();
            var stalledAt = 0L;
            for (var offset = 0; offset < length; offset += block)
            {
                if (offset == stallAt)
                {
                    stalledAt = Stopwatch.GetTimestamp();
                    await Task.Delay(stall); // the stall is the point
                }
                // Paced at real time before the stall, so the source is live (never "ahead"); after it, the
                // rest comes at once, as a backlog does.
                var due = TimeSpan.FromSeconds(offset / 16000.0) - Stopwatch.GetElapsedTime(started);
                if (offset < stallAt && due > TimeSpan.Zero)
                {
                    await Task.Delay(due); // pacing at real time
                }
                var arrived =
                    engineStarved && offset >= stallAt
                        ? stalledAt + (long)((offset - stallAt) / 16000.0 * Stopwatch.Frequency)
                        : Stopwatch.GetTimestamp();
                await stream.WriteAsync(audio.AsMemory(offset, block), arrived);
            }
            await stream.CompleteAsync();
            await reader;
            await stream.DisposeAsync();
            return (stream, events);
        }

        var runs = await Task.WhenAll(RunAsync("sender-stalled", false), RunAsync("engine-starved", true));
        var (senderStalled, starved) = (runs[0], runs[1]);
        foreach (var (stream, events) in runs)
        {
            var emotions = events.OfType<EmotionEvent>().ToList();
            output.WriteLine(
                $"{stream.Id}: {emotions.Count(e => !e.IsFinal)} interim, {emotions.Count(e => e.IsFinal)} finals, "
                    + $"{stream.SegmentsLost} segments lost, shed {stream.AudioSecondsShed:F2} s, max latency "
                    + $"{(emotions.Count == 0 ? 0 : emotions.Max(e => e.Latency.EndToEndMs)):F0} ms"
            );
            Assert.Contains(emotions, e => !e.IsFinal); // the speech before the stall was analysed
            // Within the bound plus the time of a run (and what other processes on these cores add); the late
            // final would have come 4 s after its audio.
            Assert.All(
                emotions,
                e => Assert.True(e.Latency.EndToEndMs < 2500, $"{e.Latency.EndToEndMs:F0} ms")
            );
        }
        // The starved stream's audio after the stall arrived seconds before its reader saw it, so it is shed
        // whatever the scheduling. How much of the stalled sender's burst is shed depends only on whether its
        // reader keeps pace with the writes, which a busy machine decides, so it is not asserted here (a fake clock
        // pins that rule down in IngestBacklogTests).
        Assert.True(
            starved.Stream.AudioSecondsShed >= 0.4,
            $"engine-starved shed {starved.Stream.AudioSecondsShed:F2} s"
        );
        // The segment open at the stall ends in fresh audio for the stalled sender (its final comes) and in stale
        // audio for the starved stream (no final: it would come 4 s late).
        var stalledEnd = senderStalled.Events.OfType<SpeechEvent>().First(e => !e.IsStart);
        Assert.Contains(
            senderStalled.Events.OfType<EmotionEvent>(),
            e => e.IsFinal && e.Segment == stalledEnd.Segment
        );
        var starvedEnd = starved.Events.OfType<SpeechEvent>().First(e => !e.IsStart);
        Assert.DoesNotContain(
            starved.Events.OfType<EmotionEvent>(),
            e => e.IsFinal && e.Segment == starvedEnd.Segment
        );
        Assert.True(starved.Stream.SegmentsLost >= 1);
    }

    [SkippableFact]
    public async Task Recordings_in_a_live_engine_lose_nothing_while_the_live_streams_beside_them_drop()
    {
        await using var engine = OverloadedLiveEngine(maxBatch: 4);
        var audio = TestAudio.Conversation(TestAudio.FixtureClips(2), 2);

        async Task<(bool Recorded, EngineStream Stream, List<EngineEvent> Events)> RunAsync(
            int s,
            bool recorded
        )
        {
            var overrides = recorded ? engine.Options.Streams with { Recorded = true } : null;
            var stream = engine.OpenStream(
                $"{(recorded ? "rec" : "live")}{s}",
                new StreamFormat(16000, 1),
                overrides
            );
            var events = await EngineFeed.FeedAsync(stream, audio, 16000);
            await stream.DisposeAsync();
            return (recorded, stream, events);
        }

        var runs = await Task.WhenAll(Enumerable.Range(0, 10).Select(s => RunAsync(s, recorded: s % 5 == 0)));

        var live = runs.Where(r => !r.Recorded).ToList();
        var recordings = runs.Where(r => r.Recorded).ToList();
        output.WriteLine(
            $"live dropped {live.Sum(r => r.Stream.WindowsDropped)}, recordings classified {string.Join(", ", recordings.Select(r => r.Stream.WindowsClassified))}"
        );
        Assert.True(live.Sum(r => r.Stream.WindowsDropped) > 0, "the live streams must overload the queue");
        Assert.All(
            recordings,
            r =>
            {
                Assert.True(r.Stream.IsRecorded);
                Assert.Equal(0, r.Stream.WindowsDropped);
                Assert.Equal(0, r.Stream.AudioSecondsShed);
                Assert.Equal(0, r.Stream.SegmentsLost);
                var finals = r.Events.OfType<EmotionEvent>().Where(e => e.IsFinal).ToList();
                Assert.Equal(r.Events.OfType<SpeechEvent>().Count(e => !e.IsStart), finals.Count);
                Assert.NotEmpty(finals);
                Assert.All(finals, f => Assert.Equal("label2", f.Label));
                Assert.All(finals, f => Assert.Equal(0, f.WindowsDropped));
            }
        );
        Assert.All(live, r => Assert.False(r.Stream.IsRecorded));
    }

    [SkippableTheory]
    [InlineData(-1.0)] // speech until the last sample: the end cuts the last windows
    [InlineData(4.0)] // seconds of silence after the speech: the last windows were queued before the end
    public async Task A_stream_whose_audio_ended_does_not_wait_out_the_batching_window(double silenceSeconds)
    {
        var clips = TestAudio.FixtureClips(1);
        var conversation = TestAudio.Conversation(clips, 1);
        var audio =
            silenceSeconds < 0
                ? conversation[..^16000]
                : [.. conversation, .. new float[(int)(silenceSeconds * 16000)]];
        // A batching window far longer than the test may take, and batches larger than the stream's windows: its
        // last windows can only come back in time if the end of its audio closes the window.
        await using var engine = new EmotionEngine(
            new FakeClassifier(),
            _vad,
            new EngineOptions
            {
                Overload = OverloadPolicy.Wait,
                MaxBatch = 64,
                MaxBatchDelay = TimeSpan.FromMinutes(10),
            }
        );
        await using var stream = engine.OpenStream("ended", new StreamFormat(16000, 1));
        var feeding = EngineFeed.FeedAsync(stream, audio, 8000);
        var first = await Task.WhenAny(feeding, Task.Delay(TimeSpan.FromMinutes(2)));
        Assert.True(
            first == feeding,
            "the stream's last windows waited for a batch to fill after its audio had ended"
        );
        var events = await feeding;
        var finals = events.OfType<EmotionEvent>().Where(e => e.IsFinal).ToList();
        Assert.NotEmpty(finals);
        Assert.Equal(events.OfType<SpeechEvent>().Count(e => !e.IsStart), finals.Count);
        Assert.True(stream.WindowsClassified >= finals.Count);
    }

    [SkippableFact]
    public async Task Events_carry_latency_breakdown()
    {
        var clips = TestAudio.FixtureClips(1);
        await using var engine = new EmotionEngine(
            new FakeClassifier(),
            _vad,
            new EngineOptions { Overload = OverloadPolicy.Wait }
        );
        await using var stream = engine.OpenStream("lat", new StreamFormat(16000, 1));
        var events = await EngineFeed.FeedAsync(stream, TestAudio.Conversation(clips, 1), 512);
        var emotions = events.OfType<EmotionEvent>().ToList();
        Assert.NotEmpty(emotions);
        Assert.All(
            emotions,
            e =>
            {
                Assert.True(e.Latency.BatchSize >= 1);
                Assert.True(e.Latency.InferenceMs >= 0);
                Assert.True(e.Latency.EndToEndMs >= e.Latency.InferenceMs);
                Assert.True(Math.Abs(e.Scores.Sum() - 1) < 1e-3);
            }
        );
    }

    [SkippableFact]
    public async Task Several_models_give_each_their_own_label_and_pooled_scores_on_every_event()
    {
        var clips = TestAudio.FixtureClips(2);
        // The first model zeroes its input after reading it: the second must still see the audio.
        var emotion = new FakeClassifier(labels: 4, id: "emo", clobberInput: true);
        var arousal = new FakeClassifier(labels: 3, id: "aro");
        await using var engine = new EmotionEngine(
            [emotion, arousal],
            _vad,
            new EngineOptions { Overload = OverloadPolicy.Wait, MaxBatch = 4 }
        );
        Assert.Equal(["emo", "aro"], engine.ModelIds);
        Assert.Equal("emo+aro", engine.Name);

        foreach (var label in new[] { 1, 3 })
        {
            await using var stream = engine.OpenStream($"two{label}", new StreamFormat(16000, 1));
            var events = await EngineFeed.FeedAsync(stream, TestAudio.Conversation(clips, label), 1600);
            var emotions = events.OfType<EmotionEvent>().ToList();
            Assert.Contains(emotions, e => e.IsFinal);
            Assert.Contains(emotions, e => !e.IsFinal);
            Assert.All(
                emotions,
                e =>
                {
                    Assert.Equal(["emo", "aro"], e.Models.Select(m => m.Model));
                    Assert.Equal(e.Label, e.Models[0].Label);
                    Assert.Equal(e.Scores, e.Models[0].Scores);
                    Assert.Equal(4, e.Models[0].Scores.Length);
                    Assert.Equal(3, e.Models[1].Scores.Length);
                    Assert.True(Math.Abs(e.Models[1].Scores.Sum() - 1) < 1e-3);
                    Assert.True(e.Models.All(m => m.InferenceMs >= 0));
                    Assert.True(e.Latency.InferenceMs >= e.Models.Sum(m => m.InferenceMs) - 1e-6);
                }
            );
            // Same windows, each model's own answer: the 3-label model clamps the hidden label to 2.
            var finals = emotions.Where(e => e.IsFinal).ToList();
            Assert.All(finals, f => Assert.Equal($"label{label}", f.Label));
            Assert.All(finals, f => Assert.Equal($"label{Math.Min(label, 2)}", f.Models[1].Label));
            Assert.All(finals, f => Assert.Equal(0.9f, f.Models[1].ScoreOf($"label{Math.Min(label, 2)}"), 3));
        }
        Assert.Equal(emotion.Runs, arousal.Runs);
        Assert.Equal(emotion.BatchSizes.Order(), arousal.BatchSizes.Order());
    }

    [SkippableFact]
    public async Task Per_channel_adaptation_sees_each_channels_windows_once_in_order_although_batches_finish_out_of_order()
    {
        var clips = TestAudio.FixtureClips(3);
        var classifier = new FakeAdaptiveClassifier();
        await using var engine = new EmotionEngine(
            [classifier],
            _vad,
            new EngineOptions
            {
                Overload = OverloadPolicy.Wait,
                MaxBatch = 2,
                ConcurrentRuns = 3,
                Streams = new StreamOptions { InterimResults = true },
            }
        );
        // Stereo: each side its own speaker; a DC ramp makes every later window's mean larger than the one before.
        var left = TestAudio.Conversation(clips, 0);
        var right = TestAudio.Conversation(clips, 1);
        var stereo = new float[2 * left.Length];
        for (var i = 0; i < left.Length; i++)
        {
            var ramp = 0.02f * i / 16000f;
            stereo[2 * i] = left[i] + ramp;
            stereo[2 * i + 1] = right[i] + ramp;
        }
        await using var stream = engine.OpenStream("adaptive", new StreamFormat(16000, 2));
        var events = await EngineFeed.FeedAsync(stream, stereo, 3200);

        var interims = events.OfType<EmotionEvent>().Where(e => !e.IsFinal).ToList();
        Assert.Equal(2, classifier.Adapters.Count);
        Assert.Equal(interims.Count, classifier.Adapters.Sum(a => a.Seen.Count));
        foreach (var adapter in classifier.Adapters)
        {
            Assert.True(adapter.Seen.Count > 5, $"only {adapter.Seen.Count} windows");
            for (var i = 1; i < adapter.Seen.Count; i++)
            {
                Assert.True(
                    adapter.Seen[i] > adapter.Seen[i - 1],
                    $"window {i} adapted after a later one ({adapter.Seen[i]} ≤ {adapter.Seen[i - 1]})"
                );
            }
        }
        output.WriteLine($"{interims.Count} windows over two channels, adapted in order");
    }

    [SkippableFact]
    public async Task One_model_events_list_that_model_alone()
    {
        var clips = TestAudio.FixtureClips(1);
        await using var engine = new EmotionEngine(new FakeClassifier(), _vad);
        await using var stream = engine.OpenStream("one", new StreamFormat(16000, 1));
        var events = await EngineFeed.FeedAsync(stream, TestAudio.Conversation(clips, 2), 1600);
        var final = events.OfType<EmotionEvent>().First(e => e.IsFinal);
        var only = Assert.Single(final.Models);
        Assert.Equal("fake", only.Model);
        Assert.Equal(final.Label, only.Label);
        Assert.DoesNotContain("\"models\"", Output.EventJson.ToLine(final, null), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_model_listed_twice_is_refused_with_its_name()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new EmotionEngine([new FakeClassifier(), new FakeClassifier()], _vad)
        );
        Assert.Contains("'fake' is listed twice", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_failing_model_run_ends_only_the_streams_it_carried()
    {
        var clips = TestAudio.FixtureClips(1);
        var classifier = new FakeClassifier(failWhen: run => run == 1);
        await using var engine = new EmotionEngine(
            classifier,
            _vad,
            new EngineOptions { Overload = OverloadPolicy.Wait, MaxBatch = 1 }
        );
        var audio = TestAudio.Conversation(clips, 1);

        await using var first = engine.OpenStream("first", new StreamFormat(16000, 1));
        await Assert.ThrowsAnyAsync<Exception>(() => EngineFeed.FeedAsync(first, audio, 1600));

        await using var second = engine.OpenStream("second", new StreamFormat(16000, 1));
        var events = await EngineFeed.FeedAsync(second, audio, 1600);
        Assert.Contains(events, e => e is EmotionEvent { IsFinal: true, Label: "label1" });
    }

    [SkippableFact]
    public async Task Disposing_streams_returns_the_active_gauge_to_zero()
    {
        await using var engine = new EmotionEngine(new FakeClassifier(), _vad);
        var streams = Enumerable
            .Range(0, 5)
            .Select(i => engine.OpenStream($"g{i}", new StreamFormat(8000, 1)))
            .ToList();
        Assert.Equal(5, engine.ActiveStreams);
        await streams[0].WriteAsync(new float[8000]);
        foreach (var s in streams)
        {
            await s.DisposeAsync();
            await s.DisposeAsync();
        }
        Assert.Equal(0, engine.ActiveStreams);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
            await streams[1].WriteAsync(new float[10])
        );
    }

    [Fact]
    public void Smoother_hysteresis_keeps_label_until_another_clearly_leads()
    {
        var smoother = new EmotionSmoother(2, timeConstantSeconds: 0, hysteresisMargin: 0.2f);
        smoother.Add([0.8f, 0.2f], 0, 1);
        Assert.Equal(0, smoother.Current);
        smoother.Add([0.45f, 0.55f], 0.5, 1); // leads by 0.1 < margin
        Assert.Equal(0, smoother.Current);
        smoother.Add([0.3f, 0.7f], 0.5, 1); // leads by 0.4
        Assert.Equal(1, smoother.Current);
        Span<float> pooled = stackalloc float[2];
        Assert.True(smoother.TryGetPooled(pooled, out var label));
        Assert.Equal((0.8f + 0.45f + 0.3f) / 3, pooled[0], 5);
        Assert.Equal(0, label); // pooled over the segment, label 0 still leads
    }

    [Fact]
    public void Smoother_moving_average_follows_its_time_constant()
    {
        var smoother = new EmotionSmoother(2, timeConstantSeconds: 1.0, hysteresisMargin: 0);
        smoother.Add([1f, 0f], 0, 1);
        smoother.Add([0f, 1f], 1.0, 1);
        // One time constant later the average has moved 1 − 1/e of the way.
        Assert.Equal(1 - (1 - Math.Exp(-1)), smoother.Smoothed[0], 4);
    }
}
