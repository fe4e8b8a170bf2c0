using System.Diagnostics;
using System.Globalization;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Cli.Bench;

internal sealed record PipelineResult(
    int Streams,
    double AudioSeconds,
    double ChannelSeconds,
    double ElapsedSeconds,
    double XRealtimePerChannel,
    long Windows,
    double MeanBatch,
    double PipelineWindowsPerSecond,
    double RawWindowsPerSecond,
    double Efficiency,
    long VadFrames,
    double RawVadFramesPerSecond,
    double EfficiencyVsOnnxWork,
    double BaselineWorkingSetMb,
    double PeakWorkingSetMb,
    double FinalWorkingSetMb
)
{
    /// <summary>The models run on every window, '+'-joined (their raw throughputs are combined).</summary>
    public string Models { get; init; } = "";

    /// <summary>Distinct input shapes each ONNX session ran during the replay (before the raw measurements).</summary>
    public IReadOnlyDictionary<string, int> Shapes { get; init; } = new Dictionary<string, int>();

    /// <summary>Where the replay's time went, stage by stage (busy seconds summed over threads).</summary>
    public StageSplit? Stages { get; init; }

    /// <summary>
    /// Efficiency against the ONNX work these channels allow: each channel has one VAD frame in flight (the next
    /// needs its state), so at best the channels in flight share the cores, a batch of channels ÷ cores on each.
    /// <see cref="EfficiencyVsOnnxWork"/> measures raw VAD at a full batch on every core, which only twice as
    /// many channels could reach.
    /// </summary>
    public double EfficiencyVsReachableOnnxWork { get; init; }

    /// <summary>The per-core VAD batch behind <see cref="EfficiencyVsReachableOnnxWork"/>.</summary>
    public int ReachableVadBatch { get; init; }

    /// <summary>
    /// The untimed warm-up pass over the same recordings (null with --cold): what the process's first replay
    /// took, compiling ser's code paths and the sessions' first shapes included.
    /// </summary>
    public double? ColdElapsedSeconds { get; init; }

    /// <summary><see cref="ColdElapsedSeconds"/> as × real time per channel.</summary>
    public double? ColdXRealtimePerChannel { get; init; }

    /// <summary>
    /// Every timed pass's elapsed seconds, in order; <see cref="ElapsedSeconds"/> (and every figure derived from it)
    /// is the best of them, as the raw VAD figure is the best of its passes.
    /// </summary>
    public IReadOnlyList<double> TimedPassesSeconds { get; init; } = [];
}

/// <summary>
/// Busy seconds per stage of a replay, summed over threads, beside the core-seconds the run had
/// (elapsed × cores): decoding the recordings (timed apart, warm, for as much audio as the run replays: the run
/// itself replays audio decoded before it), resampling, the VAD's model runs, the windower's own work, the
/// emotion models' runs, speaker adaptation (part of output), and output (ordering, smoothing, events).
/// </summary>
internal sealed record StageSplit(
    double DecodeS,
    double ResampleS,
    double VadS,
    bool VadBatched,
    double MeanVadBatch,
    double WindowingS,
    double ModelS,
    double MeanModelBatch,
    double AdaptationS,
    double OutputS,
    double CoreSeconds
)
{
    public string Line() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"stages (busy s): resample {ResampleS:0.00}  VAD {VadS:0.00} ({(VadBatched ? "batched" : "per frame")}, mean batch {MeanVadBatch:0.0})  windowing {WindowingS:0.00}  model {ModelS:0.00} (mean batch {MeanModelBatch:0.0})  adaptation {AdaptationS:0.00}  output {OutputS:0.00}; "
                + $"{ResampleS + VadS + WindowingS + ModelS + OutputS:0.00} of {CoreSeconds:0.00} core-seconds; "
                + $"decode {DecodeS:0.000} more (timed apart: the run replays decoded audio, a replay from files would add it)"
        );
}

/// <summary>
/// Replay throughput (VAD, windowing, batching, smoothing and all) against raw model throughput on the
/// very same windows; plus memory sampled through the run, to show it stays flat on long recordings.
/// Because Silero VAD, which every 32 ms frame of every channel must pass, costs far more than this small
/// emotion model, it also reports the efficiency against all the ONNX work the run needs (the same VAD
/// frames, run on as many threads as streams, plus the same windows): what the pipeline itself adds.
/// </summary>
internal static class PipelineBench
{
    /// <summary>The most of each recording the untimed warm-up pass replays.</summary>
    private const double WarmUpSeconds = 300;

    public static async Task<PipelineResult> RunAsync(
        IReadOnlyList<OnnxEmotionClassifier> classifiers,
        SileroVadModel vad,
        IReadOnlyList<(float[] Interleaved, int Rate, int Channels)> recordings,
        double decodeSeconds,
        double repeatSeconds,
        int parallel,
        EngineOptions options,
        bool warmUp,
        int timedPasses,
        Action<string> progress,
        CancellationToken ct
    )
    {
        var replayOptions = options with
        {
            Overload = OverloadPolicy.Wait,
            MaxBatchDelay = EngineOptions.ReplayMaxBatchDelay,
            Streams = options.Streams with { InterimResults = true },
        };
        Task ReplayAllAsync(
            EmotionEngine engine,
            ReplayTally tally,
            Action<string> report,
            bool warmUpPass
        ) =>
            Parallel.ForEachAsync(
                Enumerable.Range(0, recordings.Count),
                new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct },
                async (index, token) =>
                {
                    var (audio, rate, channels) = recordings[index];
                    // A warm-up needs every code path and shape, not hours: at most the first WarmUpSeconds.
                    var seconds = warmUpPass
                        ? Math.Min(WarmUpSeconds, audio.Length / (double)(rate * channels))
                        : repeatSeconds;
                    report(await ReplayAsync(engine, index, recordings[index], seconds, tally, token));
                }
            );

        (double Seconds, double XRealtime)? cold = null;
        if (warmUp)
        {
            // The raw measurements below warm up before they time (a run per shape, 50 VAD frames), so the replay is
            // timed warm too: timed cold, a short replay would also pay for compiling ser's code and the sessions'
            // first shapes, which a long one amortises. The untimed pass's time is the cold figure; it covers at most
            // WarmUpSeconds of each recording, so that --hours runs do not take twice as long.
            progress("pipeline: warm-up pass (untimed; --cold times the first pass instead)");
            var warmTally = new ReplayTally();
            var warmClock = Stopwatch.StartNew();
            await using (var warm = new EmotionEngine(classifiers, vad, replayOptions))
            {
                await ReplayAllAsync(warm, warmTally, _ => { }, warmUpPass: true);
            }
            var seconds = warmClock.Elapsed.TotalSeconds;
            cold = (seconds, warmTally.ChannelSeconds / seconds);
            progress(
                $"pipeline: warm-up pass took {seconds:0.00} s, {cold.Value.XRealtime:0}× real time per channel"
            );
        }

        var memory = new MemorySampler();
        // One pass of a short replay lasts well under a second, so a busy moment on a shared machine decides it as
        // it would a single raw pass; the raw VAD figure is the best of five passes, so the replay is the best of
        // its passes too, and every pass is reported.
        var passes = new List<double>();
        (
            double Elapsed,
            ReplayTally Replay,
            IReadOnlyDictionary<string, int> Shapes,
            StageSplit Stages
        )? best = null;
        for (var pass = 0; pass < Math.Max(1, timedPasses); pass++)
        {
            GC.Collect();
            var tally = new ReplayTally();
            IReadOnlyDictionary<string, int> passShapes;
            StageSplit passStages;
            // The models' and Silero's busy clocks run for the process; the engine's own counters are per engine.
            var before = (Vad: vad.BusyTime, Models: ModelBusy(classifiers));
            var clock = Stopwatch.StartNew();
            TimeSpan reading;
            await using (var engine = new EmotionEngine(classifiers, vad, replayOptions))
            {
                await ReplayAllAsync(engine, tally, pass == 0 ? progress : _ => { }, warmUpPass: false);
                // Reading the counters is the bench's work, not the replay's (and its first call compiles it): untimed.
                var read = Stopwatch.GetTimestamp();
                passShapes = BenchFormat.Shapes(engine.Sessions);
                passStages = Stages(
                    engine,
                    classifiers,
                    vad,
                    before,
                    decodeSeconds,
                    tally,
                    clock.Elapsed.TotalSeconds
                );
                reading = Stopwatch.GetElapsedTime(read);
            }
            var seconds = (clock.Elapsed - reading).TotalSeconds;
            passes.Add(seconds);
            if (best is null || seconds < best.Value.Elapsed)
            {
                best = (seconds, tally, passShapes, passStages);
            }
        }
        var final = await memory.StopAsync();
        var (elapsed, replay, shapes, stages) = best!.Value;
        if (passes.Count > 1)
        {
            progress(
                $"pipeline: timed passes {string.Join(" / ", passes.Select(p => p.ToString("0.000", CultureInfo.InvariantCulture)))} s; the best counts"
            );
        }

        progress(
            $"pipeline: {replay.WindowLengths.Count} windows in {elapsed:0.0} s; measuring raw model throughput on the same windows"
        );
        // Every window passes every model, so the raw cost per window is the sum of the models' costs.
        var raw = 1 / classifiers.Sum(c => 1 / RawThroughput(c, replay.WindowLengths, options.MaxBatch));
        var vadFrames = (long)(
            replay.ChannelSeconds * SileroVadModel.SampleRate / SileroVadModel.FrameSamples
        );
        progress($"pipeline: measuring raw Silero VAD throughput ({vadFrames} frames in the run)");
        var streams = Math.Max(1, Math.Min(parallel, recordings.Count));
        // Batched: at best every channel of every stream in flight shares a run.
        var vadBatch = Math.Max(1, Math.Min(options.VadMaxBatch, streams * recordings.Max(r => r.Channels)));
        var rawVad = RawVadThroughput(vad, streams, vadBatch);
        var onnxSeconds = vadFrames / rawVad + replay.WindowLengths.Count / raw;
        var reachableBatch = Math.Max(
            1,
            Math.Min(
                options.VadMaxBatch,
                streams * recordings.Max(r => r.Channels) / Environment.ProcessorCount
            )
        );
        var reachableVad =
            options.VadMaxBatch > 0 && reachableBatch != vadBatch
                ? RawVadThroughput(vad, streams, reachableBatch)
                : rawVad;
        var reachableSeconds = vadFrames / reachableVad + replay.WindowLengths.Count / raw;
        var pipelineRate = replay.WindowLengths.Count / elapsed;
        return new PipelineResult(
            recordings.Count,
            replay.AudioSeconds,
            replay.ChannelSeconds,
            elapsed,
            replay.ChannelSeconds / elapsed,
            replay.WindowLengths.Count,
            replay.MeanBatch,
            pipelineRate,
            raw,
            pipelineRate / raw,
            vadFrames,
            rawVad,
            onnxSeconds / elapsed,
            memory.Baseline,
            memory.Peak,
            final
        )
        {
            Models = string.Join('+', classifiers.Select(c => c.Manifest.Id)),
            Shapes = shapes,
            Stages = stages,
            EfficiencyVsReachableOnnxWork = reachableSeconds / elapsed,
            ReachableVadBatch = reachableBatch,
            ColdElapsedSeconds = cold?.Seconds,
            ColdXRealtimePerChannel = cold?.XRealtime,
            TimedPassesSeconds = passes,
        };
    }

    /// <summary>
    /// Replays one recording (looped to <paramref name="repeatSeconds"/> when that is set) as one stream, half a
    /// second per write, and adds its windows to <paramref name="tally"/>; returns the progress line.
    /// </summary>
    private static async Task<string> ReplayAsync(
        EmotionEngine engine,
        int index,
        (float[] Interleaved, int Rate, int Channels) recording,
        double repeatSeconds,
        ReplayTally tally,
        CancellationToken token
    )
    {
        var (audio, rate, channels) = recording;
        await using var stream = engine.OpenStream($"bench{index}", new StreamFormat(rate, channels));
        var windows = new List<(int, int)>();
        var total = (long)(repeatSeconds > 0 ? repeatSeconds * rate * channels : audio.Length);
        long fed = 0;
        // As replay feeds a recording (RecordingRun), looping the audio when a length is asked for.
        await RecordingRun.RunAsync(
            stream,
            (block, _) =>
            {
                var offset = (int)(fed % audio.Length);
                var length = (int)Math.Min(Math.Min(block.Length, audio.Length - offset), total - fed);
                length -= length % channels;
                audio.AsSpan(offset, length).CopyTo(block.Span);
                fed += length;
                return ValueTask.FromResult(length);
            },
            e =>
            {
                if (e is EmotionEvent { IsFinal: false } w)
                {
                    windows.Add(
                        ((int)Math.Round((w.EndSeconds - w.StartSeconds) * 16000), w.Latency.BatchSize)
                    );
                }
                return ValueTask.CompletedTask;
            },
            token
        );
        tally.Add(
            windows,
            total / (double)channels / rate,
            audio.Length / (double)channels / rate,
            stream.SecondsReceived * stream.Channels
        );
        return $"pipeline: stream {index} done ({stream.SecondsReceived:0} s audio, {windows.Count} windows)";
    }

    /// <summary>The engine's busy time per stage, read before it is disposed.</summary>
    private static StageSplit Stages(
        EmotionEngine engine,
        IReadOnlyList<OnnxEmotionClassifier> classifiers,
        SileroVadModel vad,
        (TimeSpan Vad, TimeSpan Models) before,
        double decodeSeconds,
        ReplayTally replay,
        double elapsedSeconds
    ) =>
        new(
            // Decoded once per copy; a run looped to --hours reads its recordings that many times over.
            decodeSeconds * replay.AudioSeconds / Math.Max(1e-9, replay.RecordedSeconds),
            engine.Profile.Resample.TotalSeconds,
            (vad.BusyTime - before.Vad).TotalSeconds,
            engine.VadBatcher is not null,
            engine.VadBatcher is { } batcher ? batcher.Frames / (double)Math.Max(1, batcher.Runs) : 1,
            engine.Profile.Windowing.TotalSeconds,
            (ModelBusy(classifiers) - before.Models).TotalSeconds,
            replay.MeanBatch,
            // The heads run inside adaptation, which is inside output.
            engine.Profile.Adaptation.TotalSeconds,
            engine.Profile.Delivery.TotalSeconds,
            elapsedSeconds * Environment.ProcessorCount
        );

    private static TimeSpan ModelBusy(IReadOnlyList<OnnxEmotionClassifier> classifiers) =>
        classifiers.Aggregate(TimeSpan.Zero, (sum, c) => sum + c.Sessions[0].BusyTime);

    /// <summary>What the replay's streams produced: each window's length and batch, and the audio they sent.</summary>
    private sealed class ReplayTally
    {
        private readonly Lock _lock = new();
        private readonly List<int> _batches = [];

        /// <summary>Samples at 16 kHz of each window; read once every stream is done.</summary>
        public List<int> WindowLengths { get; } = [];

        public double AudioSeconds { get; private set; }

        public double ChannelSeconds { get; private set; }

        public double MeanBatch => _batches.Count == 0 ? 0 : _batches.Average();

        /// <summary>Seconds of the recordings themselves, once each (<see cref="AudioSeconds"/> loops them to --hours).</summary>
        public double RecordedSeconds { get; private set; }

        public void Add(
            List<(int Length, int Batch)> windows,
            double audioSeconds,
            double recordedSeconds,
            double channelSeconds
        )
        {
            lock (_lock)
            {
                WindowLengths.AddRange(windows.Select(w => w.Length));
                _batches.AddRange(windows.Select(w => w.Batch));
                AudioSeconds += audioSeconds;
                RecordedSeconds += recordedSeconds;
                ChannelSeconds += channelSeconds;
            }
        }
    }

    /// <summary>The process's working set from now until <see cref="StopAsync"/>: where it started and its peak.</summary>
    private sealed class MemorySampler
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _sampling;

        public MemorySampler()
        {
            Baseline = Environment.WorkingSet / 1e6;
            Peak = Baseline;
            _sampling = Task.Run(SampleAsync);
        }

        public double Baseline { get; }

        public double Peak { get; private set; }

        /// <summary>Stops sampling; returns the working set at the end.</summary>
        public async Task<double> StopAsync()
        {
            await _stop.CancelAsync();
            await _sampling;
            _stop.Dispose();
            return Environment.WorkingSet / 1e6;
        }

        private async Task SampleAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Peak = Math.Max(Peak, Environment.WorkingSet / 1e6);
                try
                {
                    await Task.Delay(200, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Windows per second when the same windows are fed straight to the model in full batches.</summary>
    private static double RawThroughput(OnnxEmotionClassifier classifier, List<int> lengths, int maxBatch)
    {
        var labels = classifier.Manifest.Labels.Count;
        var scores = new float[maxBatch * labels];
        var busy = TimeSpan.Zero;
        foreach (var group in lengths.GroupBy(l => l))
        {
            var length = group.Key;
            var remaining = group.Count();
            var source = ModelBench.SpeechLikeNoise(length * maxBatch, seed: length);
            var input = new float[source.Length];
            classifier.Classify(input.AsMemory(0, length), 1, scores); // warm-up for this shape
            while (remaining > 0)
            {
                var batch = Math.Min(maxBatch, remaining);
                Array.Copy(source, input, batch * length);
                var start = Stopwatch.GetTimestamp();
                classifier.Classify(input.AsMemory(0, batch * length), batch, scores);
                busy += Stopwatch.GetElapsedTime(start);
                remaining -= batch;
            }
        }
        return lengths.Count / Math.Max(1e-9, busy.TotalSeconds);
    }

    /// <summary>
    /// Silero frames per second as the pipeline runs them at best, after a warm-up, the best of five passes: one frame per run on
    /// <paramref name="threads"/> concurrent streams of speech-like noise (each with its own state), or, when
    /// <paramref name="batch"/> &gt; 1, full batches of that many streams on every core (the VAD batcher's workers).
    /// </summary>
    private static double RawVadThroughput(SileroVadModel vad, int threads, int batch)
    {
        const int Frames = 1500;
        var source = ModelBench.SpeechLikeNoise(SileroVadModel.FrameSamples * Frames, seed: 7);
        var perRun = SileroVadModel.FrameSamples * batch;
        void Run(int frames)
        {
            var states = Enumerable.Range(0, batch).Select(_ => new SileroVadState()).ToArray();
            var runner = new SileroVadBatch(batch);
            var probabilities = new float[batch];
            var input = new float[perRun];
            for (var f = 0; f < frames; f += batch)
            {
                for (var b = 0; b < batch; b++)
                {
                    var frame = (f + b) % Frames;
                    source
                        .AsSpan(frame * SileroVadModel.FrameSamples, SileroVadModel.FrameSamples)
                        .CopyTo(input.AsSpan(b * SileroVadModel.FrameSamples));
                }
                runner.Run(vad, states, input, probabilities);
            }
        }
        if (batch > 1)
        {
            threads = Environment.ProcessorCount;
        }
        Run(50);
        // The best of five: one pass is only tens of milliseconds, so a busy moment on a shared machine, or tiered
        // compilation still at work, would otherwise decide the figure.
        var perThread = (Frames + batch - 1) / batch * batch;
        var best = 0.0;
        for (var round = 0; round < 5; round++)
        {
            var start = Stopwatch.GetTimestamp();
            Parallel.For(
                0,
                threads,
                new ParallelOptions { MaxDegreeOfParallelism = threads },
                _ => Run(Frames)
            );
            best = Math.Max(best, threads * perThread / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    /// <summary>
    /// Decodes each recording once and lists it <paramref name="copies"/> times (the copies share its samples);
    /// the decode time returned is what decoding every copy would cost.
    /// </summary>
    public static async Task<(
        IReadOnlyList<(float[] Interleaved, int Rate, int Channels)> Audio,
        double DecodeSeconds
    )> LoadAsync(IReadOnlyList<string> paths, int copies, CancellationToken ct)
    {
        var audio = new List<(float[], int, int)>();
        var decoding = TimeSpan.Zero;
        foreach (var path in paths)
        {
            var loaded = await LoadAsync(path, ct);
            audio.AddRange(Enumerable.Repeat(loaded, copies));
            // Timed warm, as the rest of the run is: the first decode also compiled the reader.
            decoding += await TimeDecodeAsync(path, ct);
        }
        return (audio, decoding.TotalSeconds * copies);
    }

    // Decoding alone, as a replay from the file does it: half-second blocks through one buffer (RecordingRun).
    private static async Task<TimeSpan> TimeDecodeAsync(string path, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        using var reader = RealtimeSer.Audio.AudioFile.Open(path);
        var block = new float[
            Math.Max(1, (int)(reader.Format.SampleRate * RecordingRun.BlockSeconds)) * reader.Format.Channels
        ];
        while (await reader.ReadAsync(block, ct) > 0) { }
        return Stopwatch.GetElapsedTime(started);
    }

    public static async Task<(float[] Interleaved, int Rate, int Channels)> LoadAsync(
        string path,
        CancellationToken ct
    )
    {
        using var reader = RealtimeSer.Audio.AudioFile.Open(path);
        var all = new List<float>(
            (int)Math.Min(int.MaxValue / 2, (reader.TotalFrames ?? 0) * reader.Format.Channels)
        );
        var block = new float[reader.Format.SampleRate * reader.Format.Channels];
        int frames;
        while ((frames = await reader.ReadAsync(block, ct)) > 0)
        {
            all.AddRange(block.AsSpan(0, frames * reader.Format.Channels));
        }
        return ([.. all], reader.Format.SampleRate, reader.Format.Channels);
    }
}
