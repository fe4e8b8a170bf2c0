using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Vad;

/// <summary>The foundation issue's quality bar: Silero VAD on the two-party fixture call, per channel.</summary>
public class VadQualityTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("call01_stereo16k.wav")]
    [InlineData("call01_mulaw8k.wav")]
    public async Task Call01_speech_recall_and_precision_reach_95_percent_per_channel(string file)
    {
        var audio = TestPaths.RequireShared(Path.Combine("fixtures", "calls", file));
        var truth = SpeechScoring.LoadTruth(TestPaths.RequireShared("fixtures/calls/call01_truth.json"));
        using var model = SileroVadModel.Load(TestPaths.RequireVadModel());

        var segments = new List<(int Channel, SpeechSegment Segment)>();
        var result = await FileVad.DetectAsync(audio, model, (c, s) => segments.Add((c, s)));

        Assert.Equal(2, result.Channels);
        Assert.InRange(result.DurationSeconds, truth.DurationSeconds - 0.05, truth.DurationSeconds + 0.05);
        for (var channel = 0; channel < 2; channel++)
        {
            var mine = segments.Where(s => s.Channel == channel).Select(s => s.Segment).ToList();
            Assert.True(
                mine.Zip(mine.Skip(1)).All(p => p.First.EndSample <= p.Second.StartSample),
                "segments overlap or are out of order"
            );
            var score = SpeechScoring.ScoreChannel(
                truth,
                channel,
                mine.Select(s => (s.StartSeconds, s.EndSeconds))
            );
            output.WriteLine($"{file} channel {channel}: {mine.Count} segments, {score}");
            Assert.True(score.Recall >= 0.95, $"channel {channel} recall {score.Recall:F3} < 0.95");
            Assert.True(score.Precision >= 0.95, $"channel {channel} precision {score.Precision:F3} < 0.95");
        }
    }

    [SkippableFact]
    public void Silence_and_noise_give_no_speech()
    {
        using var model = SileroVadModel.Load(TestPaths.RequireVadModel());
        var vad = new StreamingVad(model);
        var events = new List<VadEvent>();
        var random = new Random(3);
        var noise = new float[16000 * 5];
        for (var i = 0; i < noise.Length; i++)
        {
            noise[i] = (float)((random.NextDouble() * 2 - 1) * 0.001); // about -60 dBFS line noise
        }
        vad.Process(new float[16000 * 5], events);
        vad.Process(noise, events);
        vad.Flush(events);
        Assert.Empty(events);
        Assert.InRange(vad.LastProbability, 0f, 0.5f);
    }

    [SkippableFact]
    public void Digital_silence_costs_no_model_run_and_speech_after_it_is_still_found()
    {
        using var model = SileroVadModel.Load(TestPaths.RequireVadModel());
        var clip = ReadMono(TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav"));
        var vad = new StreamingVad(model);
        var events = new List<VadEvent>();

        vad.Process(new float[16000 * 3], events); // a muted channel: 3 s of zeros
        Assert.Equal(0, vad.FramesScored);
        Assert.Equal(16000 * 3 / SileroVadModel.FrameSamples, vad.FramesSilent);
        Assert.Empty(events);

        vad.Process(clip, events);
        vad.Process(new float[16000], events);
        vad.Flush(events);
        Assert.True(vad.FramesScored > 0);
        var start = Assert.Single(events, e => e.Kind == VadEventKind.SpeechStart);
        // The speech begins after the 3 s of silence, and is found with the same rules as ever.
        Assert.InRange(start.Sample / 16000.0, 2.9, 3.0 + clip.Length / 16000.0);
        Assert.Contains(events, e => e.Kind == VadEventKind.SpeechEnd);
    }

    [SkippableFact]
    public void Streams_have_independent_state()
    {
        using var model = SileroVadModel.Load(TestPaths.RequireVadModel());
        var clip = TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        var samples = ReadMono(clip);

        // Scoring the same clip in two streams interleaved frame by frame must match scoring it alone.
        var alone = Probabilities(model, new SileroVadState(), samples);
        var a = new SileroVadState();
        var b = new SileroVadState();
        var frames = samples.Length / SileroVadModel.FrameSamples;
        for (var f = 0; f < frames; f++)
        {
            var frame = samples.AsSpan(f * SileroVadModel.FrameSamples, SileroVadModel.FrameSamples);
            var pa = model.Process(a, frame);
            model.Process(b, new float[SileroVadModel.FrameSamples]);
            Assert.Equal(alone[f], pa, 5);
        }
        Assert.Contains(alone, p => p > 0.9f);
    }

    private static float[] Probabilities(SileroVadModel model, SileroVadState state, float[] samples)
    {
        var frames = samples.Length / SileroVadModel.FrameSamples;
        var result = new float[frames];
        for (var f = 0; f < frames; f++)
        {
            result[f] = model.Process(
                state,
                samples.AsSpan(f * SileroVadModel.FrameSamples, SileroVadModel.FrameSamples)
            );
        }
        return result;
    }

    private static float[] ReadMono(string path)
    {
        using var reader = RealtimeSer.Audio.AudioFile.Open(path);
        Assert.Equal(16000, reader.Format.SampleRate);
        var all = new List<float>();
        var block = new float[4096 * reader.Format.Channels];
        int n;
        while ((n = reader.Read(block)) > 0)
        {
            all.AddRange(block.AsSpan(0, n * reader.Format.Channels).ToArray());
        }
        return [.. all];
    }
}
