using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using RealtimeSer.Tests.Fakes;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Robustness;

/// <summary>
/// Audio a live line can really send (NaN from a broken codec, infinities, DC offset, clipping, long
/// silence, tones, noise, 8 kHz audio declared as 16 kHz): the engine never crashes and never reports NaN.
/// Runs with the installed default model (the real graph); skips without it.
/// </summary>
public sealed class HostileAudioTests(ITestOutputHelper output) : IDisposable
{
    private readonly SileroVadModel _vad = SileroVadModel.Load(TestPaths.RequireVadModel());

    public void Dispose() => _vad.Dispose();

    /// <summary>
    /// The installed default model: the point is the real graph's answer to damaged audio (a fake model would
    /// pass whatever the audio), so without it the tests skip, saying so.
    /// </summary>
    private static IEmotionClassifier Classifier()
    {
        try
        {
            return OnnxEmotionClassifier.Load(ModelCatalog.Resolve(ModelCatalog.DefaultModelId));
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException(
                $"the default model {ModelCatalog.DefaultModelId} is not installed, and a fake model would not "
                    + $"test what the real graph does with hostile audio: {e.Message}"
            );
        }
    }

    public static TheoryData<string> Cases =>
        ["nan", "infinity", "dc", "clipping", "silence", "tone", "noise", "speech+nan"];

    private static float[] Make(string kind, int seconds)
    {
        // Real speech (a fixture clip, looped with pauses) under the damage, so that the VAD opens and the
        // damaged samples reach the model's windows.
        var clip = TestAudio.ReadMono16k(TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav"));
        var n = seconds * 16000;
        var x = new float[n];
        var random = new Random(42);
        for (var i = 0; i < n; i++)
        {
            var period = clip.Length + 16000;
            var speechLike = i % period < clip.Length ? clip[i % period] : 0f;
            x[i] = kind switch
            {
                "nan" => i % 3 == 0 ? float.NaN : speechLike,
                "infinity" => i % 5 == 0
                    ? (i % 2 == 0 ? float.PositiveInfinity : float.NegativeInfinity)
                    : speechLike,
                "dc" => 0.8f + speechLike * 0.2f,
                "clipping" => Math.Clamp(speechLike * 20, -1, 1),
                "silence" => 0,
                "tone" => (float)(0.9 * Math.Sin(2 * Math.PI * 440 * i / 16000)),
                "noise" => (float)(random.NextDouble() * 2 - 1),
                "speech+nan" => i % 1000 == 0 ? float.NaN : speechLike * 3,
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
        }
        return x;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Hostile_audio_never_crashes_and_never_yields_NaN_scores(string kind)
    {
        using var classifier = Classifier();
        await using var engine = new EmotionEngine(
            classifier,
            _vad,
            new EngineOptions { Overload = OverloadPolicy.Wait }
        );
        await using var stream = engine.OpenStream(kind, new StreamFormat(16000, 1));
        var events = new List<EngineEvent>();
        var reader = Task.Run(async () =>
        {
            await foreach (var e in stream.Events.ReadAllAsync())
            {
                events.Add(e);
            }
        });
        var audio = Make(kind, 20);
        for (var offset = 0; offset < audio.Length; offset += 3200)
        {
            await stream.WriteAsync(audio.AsMemory(offset, Math.Min(3200, audio.Length - offset)));
        }
        await stream.CompleteAsync();
        await reader;

        var emotions = events.OfType<EmotionEvent>().ToList();
        output.WriteLine(
            $"{kind}: {events.OfType<SpeechEvent>().Count(s => s.IsStart)} speech segments, {emotions.Count} emotion events, "
                + $"labels {string.Join(",", emotions.Where(e => e.IsFinal).Select(e => e.Label))}"
        );
        Assert.DoesNotContain(events, e => e is StreamFailedEvent);
        if (kind is "silence" or "tone" or "noise")
        {
            // Nothing the VAD calls speech: no event at all (so no score to check).
            Assert.Empty(emotions);
            return;
        }
        // The speech under the damage is still found and classified, and every score is finite. (With a third
        // of all samples NaN, zeroed on entry, the VAD finds 2 of the 6 turns: measured, docs/reliability.md.)
        Assert.NotEmpty(emotions);
        Assert.Contains(emotions, e => e.IsFinal);
        Assert.All(
            emotions,
            e => Assert.All(e.Scores, s => Assert.True(float.IsFinite(s) && s >= 0 && s <= 1))
        );
    }

    [SkippableFact]
    public async Task Over_range_audio_reaches_the_model_clipped_to_plus_and_minus_one_on_both_sides()
    {
        // Speech four times too loud: blocks whose largest sample is negative as well as positive.
        var clip = TestAudio.ReadMono16k(TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav"));
        var audio = new float[clip.Length * 3 + 16000 * 2];
        for (var i = 0; i < audio.Length; i++)
        {
            var period = clip.Length + 16000;
            audio[i] = i % period < clip.Length ? 4 * clip[i % period] : 0f;
        }
        Assert.True(audio.Min() < -1 && audio.Max() > 1, "the test audio should overshoot both ways");
        var recorder = new FakeClassifier(labels: 2);
        await using (
            var engine = new EmotionEngine(
                recorder,
                _vad,
                new EngineOptions { Overload = OverloadPolicy.Wait }
            )
        )
        {
            await using var stream = engine.OpenStream("loud", new StreamFormat(16000, 1));
            var reader = Task.Run(async () =>
            {
                await foreach (var _ in stream.Events.ReadAllAsync()) { }
            });
            for (var offset = 0; offset < audio.Length; offset += 3200)
            {
                await stream.WriteAsync(audio.AsMemory(offset, Math.Min(3200, audio.Length - offset)));
            }
            await stream.CompleteAsync();
            await reader;
        }
        var windows = recorder.BatchSizes.Sum();
        var (min, max) = recorder.InputRange;
        output.WriteLine($"{windows} windows, samples from {min} to {max}");
        Assert.True(windows > 3, $"only {windows} windows");
        Assert.Equal(-1f, min);
        Assert.Equal(1f, max);
    }

    [SkippableFact]
    public async Task Eight_kHz_audio_declared_as_16_kHz_is_processed_as_declared()
    {
        TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        // Every other sample: 8 kHz audio that the sender mislabels as 16 kHz (it plays twice as fast). Twelve
        // clips with pauses, so that some of the sped-up speech still sounds like speech to the VAD and reaches
        // the model: most sped-up clips alone give no event, and then nothing to check.
        var mislabeled = new List<float>();
        foreach (var clip in TestAudio.FixtureClips(12))
        {
            mislabeled.AddRange(TestAudio.ReadMono16k(clip).Where((_, i) => i % 2 == 0));
            mislabeled.AddRange(new float[8000]);
        }
        using var classifier = Classifier();
        await using var engine = new EmotionEngine(
            classifier,
            _vad,
            new EngineOptions { Overload = OverloadPolicy.Wait }
        );
        await using var stream = engine.OpenStream("mislabeled", new StreamFormat(16000, 1));
        var reader = Task.Run(async () => await stream.Events.ReadAllAsync().ToListAsync());
        await stream.WriteAsync(mislabeled.ToArray());
        await stream.WriteAsync(new float[16000]);
        await stream.CompleteAsync();
        var events = await reader;
        Assert.Equal(mislabeled.Count + 16000, stream.SamplesReceived);
        output.WriteLine($"mislabeled: {events.OfType<EmotionEvent>().Count()} emotion events");
        Assert.NotEmpty(events.OfType<EmotionEvent>());
        Assert.All(
            events.OfType<EmotionEvent>(),
            e => Assert.All(e.Scores, s => Assert.True(float.IsFinite(s)))
        );
    }

    [SkippableFact]
    public async Task An_hour_of_silence_produces_nothing()
    {
        // An hour of 8 kHz silence (about 20 s of Silero VAD on 2 cores); the two-hour soak through the server
        // is an opt-in benchmark (docs/reliability.md).
        using var classifier = Classifier();
        await using var engine = new EmotionEngine(
            classifier,
            _vad,
            new EngineOptions { Overload = OverloadPolicy.Wait }
        );
        await using var stream = engine.OpenStream("silence", new StreamFormat(8000, 1));
        var block = new float[8000];
        for (var s = 0; s < 3600; s++)
        {
            await stream.WriteAsync(block);
        }
        await stream.CompleteAsync();
        var events = await stream.Events.ReadAllAsync().ToListAsync();
        Assert.Empty(events);
        Assert.Equal(3600L * 16000, stream.SamplesReceived);
    }
}
