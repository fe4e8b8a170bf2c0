using RealtimeSer.Audio;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;
using RealtimeSer.Tests.Fakes;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Vad;

/// <summary>Batched Silero VAD must give what per-frame VAD gives: replay stays deterministic.</summary>
public sealed class VadBatchingTests(ITestOutputHelper output) : IDisposable
{
    // Float noise only: different batch sizes may take different GEMM paths inside ONNX Runtime.
    private const float Tolerance = 1e-5f;

    private readonly SileroVadModel _model = SileroVadModel.Load(TestPaths.RequireVadModel());

    public void Dispose() => _model.Dispose();

    [SkippableFact]
    public void One_batched_run_gives_each_stream_its_per_frame_probabilities_on_the_fixture_call()
    {
        var channels = CallChannels();
        // Six streams: both channels of the call from three starting points, so rows differ in speech and state.
        var streams = new List<float[]>();
        foreach (var offset in new[] { 0, 16000 * 7 + 123, 16000 * 41 + 77 })
        {
            streams.AddRange(channels.Select(c => c[offset..]));
        }
        var frames = streams.Min(s => s.Length) / SileroVadModel.FrameSamples;
        var single = streams.Select(_ => new SileroVadState()).ToArray();
        var batched = streams.Select(_ => new SileroVadState()).ToArray();
        var batch = new SileroVadBatch(streams.Count);
        var probabilities = new float[streams.Count];
        var worst = 0f;
        var speechFrames = 0;
        for (var f = 0; f < frames; f++)
        {
            // Batch composition changes from frame to frame (1 to 6 rows), as it does under live load.
            var rows = 1 + f % streams.Count;
            var input = new float[rows * SileroVadModel.FrameSamples];
            for (var s = 0; s < rows; s++)
            {
                Frame(streams[s], f).CopyTo(input.AsSpan(s * SileroVadModel.FrameSamples));
            }
            batch.Run(_model, batched.AsSpan(0, rows), input, probabilities);
            for (var s = 0; s < rows; s++)
            {
                var expected = _model.Process(single[s], Frame(streams[s], f));
                worst = Math.Max(worst, Math.Abs(expected - probabilities[s]));
                speechFrames += expected >= 0.5f ? 1 : 0;
            }
            // Rows left out of this run fall behind by a frame; keep them in step on their own.
            for (var s = rows; s < streams.Count; s++)
            {
                var expected = _model.Process(single[s], Frame(streams[s], f));
                var alone = _model.Process(batched[s], Frame(streams[s], f));
                worst = Math.Max(worst, Math.Abs(expected - alone));
            }
        }
        output.WriteLine(
            $"{frames} frames × {streams.Count} streams, {speechFrames} speech frames: largest difference {worst:E2}"
        );
        Assert.True(speechFrames > frames / 10, "the fixture should hold speech");
        Assert.True(worst <= Tolerance, $"batched probabilities differ by {worst:E2} (> {Tolerance:E0})");
    }

    [SkippableFact]
    public void The_split_graph_scores_the_fixture_call_as_the_whole_graph_does()
    {
        using var whole = SileroVadModel.Load(TestPaths.RequireVadModel(), wholeGraph: true);
        Assert.True(_model.IsSplit, $"the fetched Silero model should split: {_model.WholeGraphReason}");
        Assert.Equal("as matrix products", _model.Encoder);
        Assert.False(whole.IsSplit);
        Assert.Equal("asked for", whole.WholeGraphReason);
        var worst = 0f;
        var frames = 0;
        var disagreements = 0;
        foreach (var channel in CallChannels())
        {
            var split = new SileroVadState();
            var reference = new SileroVadState();
            for (var f = 0; f < channel.Length / SileroVadModel.FrameSamples; f++, frames++)
            {
                var expected = whole.Process(reference, Frame(channel, f));
                var got = _model.Process(split, Frame(channel, f));
                worst = Math.Max(worst, Math.Abs(expected - got));
                disagreements += expected >= 0.5f != got >= 0.5f ? 1 : 0;
            }
        }
        output.WriteLine($"{frames} frames: largest difference {worst:E2}, {disagreements} decisions differ");
        Assert.True(frames > 1000, $"only {frames} frames");
        Assert.True(worst <= Tolerance, $"split probabilities differ by {worst:E2} (> {Tolerance:E0})");
        Assert.Equal(0, disagreements);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Runs_of_several_frames_per_channel_in_one_batch_give_each_frame_its_frame_by_frame_probability(
        bool wholeGraph
    )
    {
        using var model = wholeGraph
            ? SileroVadModel.Load(TestPaths.RequireVadModel(), wholeGraph: true)
            : null;
        var vad = model ?? _model;
        var channels = CallChannels();
        var streams = new[] { channels[0], channels[1], channels[0][(16000 * 9)..] };
        // Runs of different lengths, a recording's block (15 frames) among them, changing from batch to batch.
        int[][] plans =
        [
            [15, 1, 7],
            [2, 15, 0],
            [1, 1, 1],
            [0, 6, 15],
            [15, 15, 15],
        ];
        var batched = streams.Select(_ => new SileroVadState()).ToArray();
        var single = streams.Select(_ => new SileroVadState()).ToArray();
        var next = new int[streams.Length];
        var batch = new SileroVadBatch(64);
        var probabilities = new float[64];
        var worst = 0f;
        var compared = 0;
        for (var round = 0; round < 40; round++)
        {
            var counts = plans[round % plans.Length];
            var input = new List<float>();
            for (var s = 0; s < streams.Length; s++)
            {
                for (var k = 0; k < counts[s]; k++)
                {
                    input.AddRange(Frame(streams[s], next[s] + k).ToArray());
                }
            }
            batch.Run(vad, batched, counts, input.ToArray(), probabilities);
            var row = 0;
            for (var s = 0; s < streams.Length; s++)
            {
                for (var k = 0; k < counts[s]; k++, row++, compared++)
                {
                    var expected = vad.Process(single[s], Frame(streams[s], next[s] + k));
                    worst = Math.Max(worst, Math.Abs(expected - probabilities[row]));
                }
                next[s] += counts[s];
            }
        }
        output.WriteLine($"{compared} frames compared: largest difference {worst:E2}");
        Assert.True(compared > 500, $"only {compared} frames compared");
        // Benchmarks read the VAD's cost from BusyTime: the split model's LSTM steps are part of it.
        Assert.Equal(!wholeGraph, vad.BusyTime > vad.Session.BusyTime);
        Assert.True(worst <= Tolerance, $"batched probabilities differ by {worst:E2} (> {Tolerance:E0})");
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            batch.Run(vad, batched, [40, 30, 0], new float[70 * SileroVadModel.FrameSamples], new float[70])
        );
    }

    [SkippableFact]
    public void Over_range_frames_score_as_the_same_frames_clipped_to_plus_and_minus_one()
    {
        var loud = CallChannels()[0].Select(x => 4 * x).ToArray();
        var clipped = loud.Select(x => Math.Clamp(x, -1f, 1f)).ToArray();
        var raw = new SileroVadState();
        var reference = new SileroVadState();
        var frames = loud.Length / SileroVadModel.FrameSamples;
        var negativeOnly = 0;
        for (var f = 0; f < frames; f++)
        {
            var frame = Frame(loud, f);
            // Frames whose largest excursion is negative, the case a signed maximum would miss.
            var largest = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(frame);
            negativeOnly += largest < -1 ? 1 : 0;
            Assert.Equal(_model.Process(reference, Frame(clipped, f)), _model.Process(raw, frame));
        }
        output.WriteLine($"{frames} frames, {negativeOnly} with their largest excursion below -1");
        Assert.True(negativeOnly > 10, $"only {negativeOnly} frames overshoot on the negative side");
    }

    [SkippableFact]
    public void The_encoder_as_matrix_products_computes_what_the_graphs_own_convolutions_compute()
    {
        var path = TestPaths.RequireVadModel();
        var bytes = File.ReadAllBytes(path);
        var asMatMuls =
            SileroGraph.Split(bytes, asMatMuls: true, out var why)
            ?? throw new InvalidOperationException(why);
        var asConvolutions =
            SileroGraph.Split(bytes, asMatMuls: false, out why) ?? throw new InvalidOperationException(why);
        using var products = RealtimeSer.Onnx.OnnxSession.Load(path, asMatMuls.Encoder);
        using var convolutions = RealtimeSer.Onnx.OnnxSession.Load(path, asConvolutions.Encoder);
        // Rows of the fixture call: 64-sample context, then the frame, as the batch builds them.
        var channel = CallChannels()[1];
        const int rows = 48;
        const int width = 4 * 128;
        var input = new float[rows * SileroVadModel.RowSamples];
        for (var r = 0; r < rows; r++)
        {
            channel
                .AsSpan(16000 * 20 + r * 4000, SileroVadModel.RowSamples)
                .CopyTo(input.AsSpan(r * SileroVadModel.RowSamples));
        }
        float[] Gates(RealtimeSer.Onnx.OnnxSession session)
        {
            var gates = new float[rows * width];
            session.RunInto(
                [RealtimeSer.Onnx.NamedTensor.Float("input", input, [rows, SileroVadModel.RowSamples])],
                [new RealtimeSer.Onnx.OutputBuffer(SileroGraph.GatesOutput, gates, [rows, width])]
            );
            return gates;
        }
        var expected = Gates(convolutions);
        var got = Gates(products);
        var worst = expected.Zip(got, (a, b) => Math.Abs(a - b)).Max();
        var scale = expected.Max(Math.Abs);
        output.WriteLine($"{rows} rows: gates up to {scale:F2}, largest difference {worst:E2}");
        Assert.True(scale > 0.5f, "the rows should carry signal");
        Assert.True(worst <= 1e-4f * Math.Max(1, scale), $"the gates differ by {worst:E2}");
    }

    [Fact]
    public void A_file_that_is_not_silero_v5_is_not_split_and_says_why()
    {
        Assert.Null(SileroGraph.Split([0x0a, 0xff, 0xff], out var garbage));
        Assert.Contains("not an ONNX model", garbage, StringComparison.Ordinal);
        // A valid ONNX model of another shape: one Add, no If on a sample rate.
        var other = new global::Onnx.ModelProto
        {
            IrVersion = 8,
            Graph = new global::Onnx.GraphProto { Name = "add" },
        };
        other.Graph.Node.Add(
            new global::Onnx.NodeProto
            {
                OpType = "Add",
                Input = { "input", "input" },
                Output = { "output" },
            }
        );
        other.Graph.Input.Add(new global::Onnx.ValueInfoProto { Name = "input" });
        Assert.Null(SileroGraph.Split(Google.Protobuf.MessageExtensions.ToByteArray(other), out var reason));
        Assert.Contains("not one If on the sample rate", reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Channels_scored_through_the_batcher_find_the_same_speech_as_channels_scored_alone()
    {
        var channels = CallChannels();
        var streams = new[] { channels[0], channels[1], channels[0][16000..], channels[1][8000..] };
        var frames = 0L;
        long runs;
        var batchedEvents = new List<VadEvent>[streams.Length];
        await using (var batcher = new VadBatcher(_model, maxBatch: 8, workers: 1))
        {
            // Each channel awaits its own frames, concurrently with the others, as engine streams do.
            await Task.WhenAll(
                streams.Select(
                    (audio, s) =>
                        Task.Run(async () =>
                        {
                            var vad = new StreamingVad(batcher);
                            var events = batchedEvents[s] = [];
                            for (var offset = 0; offset < audio.Length; offset += 320)
                            {
                                var block = audio.AsMemory(offset, Math.Min(320, audio.Length - offset));
                                await vad.ProcessAsync(block, events);
                            }
                            await vad.FlushAsync(events);
                            Interlocked.Add(ref frames, vad.FramesScored);
                        })
                )
            );
            Assert.Equal(frames, batcher.Frames);
            runs = batcher.Runs;
        }
        for (var s = 0; s < streams.Length; s++)
        {
            var alone = new StreamingVad(_model);
            var events = new List<VadEvent>();
            alone.Process(streams[s], events);
            alone.Flush(events);
            Assert.True(events.Count >= 20, $"stream {s}: only {events.Count} VAD events");
            Assert.Equal(events, batchedEvents[s]);
        }
        output.WriteLine($"{frames} frames in {runs} runs: mean batch {frames / (double)runs:F2}");
        Assert.True(runs < frames, "no two frames shared a run");
    }

    [SkippableFact]
    public async Task A_batched_channel_that_scores_inline_while_behind_finds_the_same_speech_without_the_batcher()
    {
        var audio = CallChannels()[0];
        var events = new List<VadEvent>();
        long inlineFrames = 0;
        long batcherFrames;
        await using (var batcher = new VadBatcher(_model, maxBatch: 8, workers: 1))
        {
            var vad = new StreamingVad(batcher);
            for (var offset = 0; offset < audio.Length; offset += 320)
            {
                // Behind for one second in every three, as a stream catching up after a stall.
                vad.ScoreInline = offset / 16000 % 3 == 1;
                var before = vad.FramesScored;
                var block = audio.AsMemory(offset, Math.Min(320, audio.Length - offset));
                await vad.ProcessAsync(block, events);
                inlineFrames += vad.ScoreInline ? vad.FramesScored - before : 0;
            }
            vad.ScoreInline = false;
            await vad.FlushAsync(events);
            batcherFrames = batcher.Frames;
            Assert.Equal(vad.FramesScored, batcherFrames + inlineFrames);
        }
        var alone = new StreamingVad(_model);
        var expected = new List<VadEvent>();
        alone.Process(audio, expected);
        alone.Flush(expected);
        output.WriteLine($"{batcherFrames} frames through the batcher, {inlineFrames} inline");
        Assert.True(inlineFrames > batcherFrames / 4, "a third of the audio should have been scored inline");
        Assert.True(expected.Count >= 20, $"only {expected.Count} VAD events");
        Assert.Equal(expected, events);
    }

    [SkippableFact]
    public async Task A_batched_engine_replays_exactly_what_an_unbatched_engine_replays()
    {
        var call = TestPaths.RequireShared("fixtures/calls/call01_stereo16k.wav");
        var interleaved = ReadInterleaved(call);
        var unbatched = await ReplayAsync(interleaved, vadMaxBatch: 0, streams: 3);
        var batched = await ReplayAsync(interleaved, vadMaxBatch: 64, streams: 3);
        for (var s = 0; s < 3; s++)
        {
            Assert.True(unbatched[s].Count > 50, $"stream {s}: only {unbatched[s].Count} events");
            Assert.Equal(unbatched[s], batched[s]);
        }
        output.WriteLine($"{unbatched[0].Count} speech and final events per stream, identical with batching");
    }

    [SkippableFact]
    public async Task Past_a_batch_pending_frames_are_served_oldest_channel_first_not_first_come()
    {
        // Thirteen channels opened in order 0..12. Channel 12's frame runs first and holds the worker while the
        // others arrive newest first; then they must run in batches of four by age, 0-3, 4-7, 8-11, whatever
        // order they came in.
        var requests = Enumerable
            .Range(0, 13)
            .Select(_ => new VadFrameRequest(new SileroVadState()))
            .ToArray();
        var pending = new ValueTask[requests.Length];
        var completedAtEachBatch = new List<int[]>();
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var frame = Enumerable.Range(0, SileroVadModel.FrameSamples).Select(i => (i % 5) * 0.01f).ToArray();
        await using (
            var batcher = new VadBatcher(
                _model,
                maxBatch: 4,
                workers: 1,
                onBatch: _ =>
                {
                    // Runs on the worker after a batch ran and before its frames complete: what completed
                    // by now is every earlier batch.
                    completedAtEachBatch.Add(
                        Enumerable.Range(0, pending.Length).Where(i => pending[i].IsCompleted).ToArray()
                    );
                    if (completedAtEachBatch.Count == 1)
                    {
                        holding.Set();
                        release.Wait(TimeSpan.FromSeconds(30));
                    }
                }
            )
        )
        {
            pending[12] = batcher.ScoreAsync(requests[12], frame);
            Assert.True(holding.Wait(TimeSpan.FromSeconds(30)), "the first batch never ran");
            for (var i = 11; i >= 0; i--)
            {
                pending[i] = batcher.ScoreAsync(requests[i], frame);
            }
            release.Set();
            foreach (var task in pending)
            {
                await task;
            }
        }

        var batches = new List<int[]>();
        var seen = Array.Empty<int>();
        foreach (var completed in completedAtEachBatch.Skip(1).Append(Enumerable.Range(0, 13).ToArray()))
        {
            batches.Add(completed.Except(seen).Order().ToArray());
            seen = completed;
        }
        output.WriteLine(string.Join(" | ", batches.Select(b => string.Join(",", b))));
        Assert.Equal(
            new[] { "12", "0,1,2,3", "4,5,6,7", "8,9,10,11" },
            batches.Select(b => string.Join(",", b)).ToArray()
        );
    }

    [SkippableFact]
    public async Task A_disposed_batcher_refuses_frames_with_a_clear_error()
    {
        var batcher = new VadBatcher(_model, workers: 1);
        var vad = new StreamingVad(batcher);
        await vad.ProcessAsync(
            new float[SileroVadModel.FrameSamples]
                .Select((_, i) => (i % 7) * 0.01f)
                .ToArray(),
            []
        );
        Assert.Equal(1, batcher.Frames);
        await batcher.DisposeAsync();
        var error = await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
            await vad.ProcessAsync(Enumerable.Repeat(0.1f, SileroVadModel.FrameSamples).ToArray(), [])
        );
        Assert.Contains("disposed", error.Message);
        Assert.Throws<InvalidOperationException>(() => vad.Process(new float[512], []));
    }

    private async Task<List<string>[]> ReplayAsync(float[] interleaved, int vadMaxBatch, int streams)
    {
        var options = new EngineOptions { Overload = OverloadPolicy.Wait, VadMaxBatch = vadMaxBatch };
        await using var engine = new EmotionEngine(new FakeClassifier(), _model, options);
        return await Task.WhenAll(
            Enumerable
                .Range(0, streams)
                .Select(s =>
                    Task.Run(async () =>
                    {
                        await using var stream = engine.OpenStream($"s{s}", new StreamFormat(16000, 2));
                        var events = new List<string>();
                        var reader = Task.Run(async () =>
                        {
                            await foreach (var e in stream.Events.ReadAllAsync())
                            {
                                // Latency differs run to run; what was found and said must not.
                                events.Add(
                                    e switch
                                    {
                                        SpeechEvent speech =>
                                            $"speech {speech.Channel} {speech.Segment} {speech.IsStart} {speech.Seconds:F4}",
                                        EmotionEvent { IsFinal: true } f =>
                                            $"final {f.Channel} {f.Segment} {f.StartSeconds:F4}-{f.EndSeconds:F4} {f.Label} {string.Join(",", f.Scores.Select(x => x.ToString("F5")))}",
                                        _ => "",
                                    }
                                );
                            }
                        });
                        // Blocks of different sizes per stream, so batches mix streams at different points.
                        var block = 2 * (1600 + 320 * s);
                        for (var offset = 0; offset < interleaved.Length; offset += block)
                        {
                            await stream.WriteAsync(
                                interleaved.AsMemory(offset, Math.Min(block, interleaved.Length - offset))
                            );
                        }
                        await stream.CompleteAsync();
                        await reader;
                        events.RemoveAll(e => e.Length == 0);
                        // Finals are published by the scheduler, so where they fall among speech events is
                        // timing; each kind's own order is not.
                        return events.OrderBy(e => e.StartsWith("final", StringComparison.Ordinal)).ToList();
                    })
                )
        );
    }

    private static float[][] CallChannels()
    {
        var interleaved = ReadInterleaved(TestPaths.RequireShared("fixtures/calls/call01_stereo16k.wav"));
        var left = new float[interleaved.Length / 2];
        var right = new float[interleaved.Length / 2];
        for (var i = 0; i < left.Length; i++)
        {
            left[i] = interleaved[2 * i];
            right[i] = interleaved[2 * i + 1];
        }
        return [left, right];
    }

    private static float[] ReadInterleaved(string path)
    {
        using var reader = AudioFile.Open(path);
        Assert.Equal((16000, 2), (reader.Format.SampleRate, reader.Format.Channels));
        var all = new List<float>();
        var block = new float[8192];
        int n;
        while ((n = reader.Read(block)) > 0)
        {
            all.AddRange(block.AsSpan(0, n * 2));
        }
        return [.. all];
    }

    private static ReadOnlySpan<float> Frame(float[] audio, int index) =>
        audio.AsSpan(index * SileroVadModel.FrameSamples, SileroVadModel.FrameSamples);
}
