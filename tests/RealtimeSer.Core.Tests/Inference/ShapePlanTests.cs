using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Inference;

/// <summary>
/// The bounded set of shapes each model session runs (ShapePlan): batches split into power-of-two pieces on
/// the CPU (results unchanged), or padded to power-of-two batches and length buckets on a GPU (results
/// changed only as padding a window with silence changes them), and a long mixed replay that stays within
/// the bound.
/// </summary>
public sealed class ShapePlanTests(ITestOutputHelper output)
{
    /// <summary>
    /// Splitting a batch changes no result beyond float rounding: ONNX Runtime's CPU kernels may sum in a
    /// different order for another batch size.
    /// </summary>
    private const float SplitTolerance = 1e-5f;

    /// <summary>
    /// Padding the batch with silent rows changes nothing either (the rows do not interact).
    /// </summary>
    private const float BatchPadTolerance = 1e-5f;

    /// <summary>
    /// Padding a 1.3 s window to its bucket with silence: the largest change of any label's probability over ten
    /// fixture clips measured 0.305 for general6 (mean 0.054; the top label stayed on 8 of 10): a short window
    /// judged alone is answered mostly by the cold-start head, which reads the added silence as a quieter voice.
    /// This is the cost a GPU pays for a fixed set of shapes, for windows shorter than the model's window only
    /// (the engine's windows all have the model's length).
    /// </summary>
    private const float LengthPadTolerance = 0.4f;

    [Fact]
    public void Batches_split_into_power_of_two_pieces_and_pad_to_the_next_one()
    {
        Assert.Equal([(0, 8), (8, 4), (12, 1)], ShapePlan.Pieces(13));
        Assert.Equal([(0, 64), (64, 64), (128, 2)], ShapePlan.Pieces(130));
        Assert.Equal([(0, 1)], ShapePlan.Pieces(1));
        Assert.Empty(ShapePlan.Pieces(0));
        Assert.Equal(
            new[] { 1, 2, 4, 4, 8, 16, 64, 64 },
            new[] { 1, 2, 3, 4, 5, 9, 33, 64 }.Select(ShapePlan.PaddedBatch)
        );
        // Padding runs a batch as one piece up to the largest batch, padded to a power of two.
        Assert.Equal([(0, 13)], ShapePlan.Chunks(13));
        Assert.Equal([(0, 64), (64, 64), (128, 2)], ShapePlan.Chunks(130));
        Assert.Empty(ShapePlan.Chunks(0));
        Assert.Equal([1, 2, 4, 8, 16, 32, 64], ShapePlan.Batches());
        for (var n = 1; n <= 200; n++)
        {
            var pieces = ShapePlan.Pieces(n).ToList();
            Assert.Equal(n, pieces.Sum(p => p.Count));
            Assert.All(pieces, p => Assert.Contains(p.Count, ShapePlan.Batches()));
        }
    }

    [Fact]
    public void Length_buckets_step_from_the_shortest_window_to_the_model_window_then_double()
    {
        var plan = new ShapePlan(pad: true, minSamples: 16000, windowSamples: 32000, longestSamples: 480000);
        Assert.Equal([16000, 20000, 24000, 28000, 32000, 64000, 128000, 256000, 480000], plan.Lengths);
        Assert.Equal(20000, plan.PaddedLength(16001));
        Assert.Equal(32000, plan.PaddedLength(32000));
        Assert.Equal(64000, plan.PaddedLength(40000));
        Assert.Equal(480000, plan.PaddedLength(480000));
        Assert.Equal(500000, plan.PaddedLength(500000));
    }

    [SkippableFact]
    public void On_the_CPU_a_split_batch_gives_each_window_the_result_it_gets_alone()
    {
        var windows = FixtureWindows(13, seconds: 2);
        using var model = LoadDefault(padShapes: false);
        var together = Features(model, windows);
        var worst = 0f;
        for (var i = 0; i < windows.Count; i++)
        {
            var alone = Features(model, [windows[i]]);
            worst = Math.Max(worst, MaxDifference(alone, together.AsSpan(i * alone.Length, alone.Length)));
        }
        output.WriteLine($"largest difference between a window in a batch of 13 and alone: {worst:E2}");
        Assert.True(worst <= SplitTolerance, $"{worst}");
        // 13 windows ran as 8 + 4 + 1, and alone as 1: three shapes.
        Assert.Equal(3, model.Sessions[0].Shapes.Count);
    }

    [SkippableFact]
    public void Padding_the_batch_changes_nothing_and_padding_short_windows_changes_what_silence_changes()
    {
        using var plain = LoadDefault(padShapes: false);
        using var padded = LoadDefault(padShapes: true);
        var warmed = padded.Sessions[0].Shapes.Count;
        Assert.Equal(5 * 7, warmed); // five lengths up to the model's window, seven batch sizes: warmed at load

        var full = FixtureWindows(5, seconds: 2);
        var batchWorst = MaxDifference(Probabilities(plain, full), Probabilities(padded, full));
        output.WriteLine($"batch of 5 padded to 8: largest change {batchWorst:E2}");
        Assert.True(batchWorst <= BatchPadTolerance, $"{batchWorst}");

        var shorter = FixtureWindows(10, seconds: 1.3);
        var exact = Probabilities(plain, shorter);
        var bucketed = Probabilities(padded, shorter);
        var labels = plain.Manifest.Labels.Count;
        var lengthWorst = MaxDifference(exact, bucketed);
        var kept = Enumerable
            .Range(0, shorter.Count)
            .Count(i => ArgMax(exact, i, labels) == ArgMax(bucketed, i, labels));
        output.WriteLine(
            $"1.3 s windows padded to {padded.Shapes.PaddedLength(shorter[0].Length) / 16000.0:0.0#} s: largest change {lengthWorst:0.000}, mean {exact.Zip(bucketed, (a, b) => Math.Abs(a - b)).Average():0.000}, top label kept on {kept} of {shorter.Count}"
        );
        Assert.True(lengthWorst <= LengthPadTolerance, $"{lengthWorst}");
        Assert.True(lengthWorst > 0, "padding a window should show in its result");
        // Nothing new: every shape those runs used was warmed up.
        Assert.Equal(warmed, padded.Sessions[0].Shapes.Count);
    }

    /// <summary>
    /// Four streams of the fixture call with four window lengths, replayed through one engine: the model
    /// session sees at most seven batch sizes per length, the VAD and the head a handful, whatever the mix.
    /// </summary>
    [SkippableFact]
    public async Task A_long_mixed_replay_runs_a_bounded_set_of_shapes()
    {
        var (audio, channels) = TestAudio.ReadInterleaved16k(
            TestPaths.RequireShared("fixtures/calls/call01_stereo16k.wav")
        );
        using var model = LoadDefault(padShapes: null);
        using var vad = SileroVadModel.Load(TestPaths.RequireVadModel());
        double[] windows = [1.0, 1.3, 1.7, 2.0];
        await using (
            var engine = new EmotionEngine(
                model,
                vad,
                new EngineOptions { Overload = OverloadPolicy.Wait, VadMaxBatch = 64 }
            )
        )
        {
            await Task.WhenAll(
                windows.Select(
                    async (w, i) =>
                    {
                        await using var stream = engine.OpenStream(
                            $"mixed{i}",
                            new StreamFormat(16000, channels),
                            engine.Options.Streams with
                            {
                                WindowSeconds = w,
                            }
                        );
                        await EngineFeed.FeedAsync(stream, audio, 8000);
                    }
                )
            );
            foreach (var session in engine.Sessions)
            {
                output.WriteLine(
                    $"{session.Name}: {session.Shapes.Count} shapes: {string.Join(" ", session.Shapes.Shapes)}"
                );
            }
            Assert.InRange(vad.Session.Shapes.Count, 1, 7);
            Assert.InRange(model.Sessions[0].Shapes.Count, windows.Length, windows.Length * 7);
            Assert.Equal(1, model.Sessions[1].Shapes.Count);
        }
    }

    private static OnnxEmotionClassifier LoadDefault(bool? padShapes)
    {
        Skip.If(ModelCatalog.List().Count == 0, "no emotion model installed");
        return OnnxEmotionClassifier.Load(ModelCatalog.Resolve(null), padShapes: padShapes);
    }

    /// <summary>The middle <paramref name="seconds"/> of the first fixture clips (zero-padded when shorter).</summary>
    private static List<float[]> FixtureWindows(int count, double seconds)
    {
        var length = (int)(seconds * 16000);
        return
        [
            .. TestAudio
                .FixtureClips(count)
                .Select(TestAudio.ReadMono16k)
                .Select(clip =>
                {
                    var window = new float[length];
                    var start = Math.Max(0, (clip.Length - length) / 2);
                    clip.AsSpan(start, Math.Min(length, clip.Length - start)).CopyTo(window);
                    return window;
                }),
        ];
    }

    private static float[] Features(OnnxEmotionClassifier model, IReadOnlyList<float[]> windows)
    {
        var features = new float[windows.Count * model.FeatureCount];
        model.ComputeFeatures(windows.SelectMany(w => w).ToArray(), windows.Count, features);
        return features;
    }

    private static float[] Probabilities(OnnxEmotionClassifier model, IReadOnlyList<float[]> windows)
    {
        var scores = new float[windows.Count * model.Manifest.Labels.Count];
        model.Classify(windows.SelectMany(w => w).ToArray(), windows.Count, scores);
        return scores;
    }

    private static float MaxDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        var worst = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        }
        return worst;
    }

    private static int ArgMax(float[] scores, int row, int labels)
    {
        var best = 0;
        for (var k = 1; k < labels; k++)
        {
            if (scores[row * labels + k] > scores[row * labels + best])
            {
                best = k;
            }
        }
        return best;
    }
}
