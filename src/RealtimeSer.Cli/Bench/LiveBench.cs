using System.Diagnostics;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;

namespace RealtimeSer.Cli.Bench;

internal sealed record LivePoint(
    int Streams,
    double Seconds,
    int Events,
    double P50Ms,
    double P95Ms,
    double P99Ms,
    double MaxMs,
    double InferenceP95Ms,
    double MeanBatch,
    long WindowsDropped,
    double CpuPercent,
    double PeakWorkingSetMb,
    bool MeetsObjective
);

/// <summary>
/// N simulated live calls, each paced at real time in 20 ms blocks (as a telephony gateway sends them), into
/// one in-process engine in live mode; end-to-end latency from each window's last sample to its event.
/// </summary>
internal static class LiveBench
{
    public static async Task<LivePoint> RunAsync(
        IEmotionClassifier classifier,
        SileroVadModel vad,
        (float[] Interleaved, int Rate, int Channels) audio,
        int streams,
        TimeSpan duration,
        EngineOptions options,
        double objectiveP95Ms,
        CancellationToken ct
    )
    {
        var latencies = new List<double>();
        var inference = new List<double>();
        var batches = new List<int>();
        long dropped = 0;
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        double peak = Environment.WorkingSet / 1e6;
        await using (
            var engine = new EmotionEngine(
                classifier,
                vad,
                options with
                {
                    Overload = OverloadPolicy.DropOldest,
                }
            )
        )
        {
            var random = new Random(streams);
            var offsets = Enumerable
                .Range(0, streams)
                .Select(_ => random.Next(audio.Interleaved.Length / audio.Channels))
                .ToArray();
            var delays = Enumerable.Range(0, streams).Select(_ => random.NextDouble()).ToArray();
            await Task.WhenAll(
                Enumerable
                    .Range(0, streams)
                    .Select(s =>
                        Task.Run(
                            async () =>
                            {
                                await Task.Delay(TimeSpan.FromSeconds(delays[s]), ct);
                                await using var stream = engine.OpenStream(
                                    $"live{s}",
                                    new StreamFormat(audio.Rate, audio.Channels)
                                );
                                var reader = Task.Run(
                                    async () =>
                                    {
                                        var mine = new List<(double, double, int)>();
                                        await foreach (var e in stream.Events.ReadAllAsync(ct))
                                        {
                                            if (e is EmotionEvent emotion)
                                            {
                                                mine.Add(
                                                    (
                                                        emotion.Latency.EndToEndMs,
                                                        emotion.Latency.InferenceMs,
                                                        emotion.Latency.BatchSize
                                                    )
                                                );
                                            }
                                        }
                                        return mine;
                                    },
                                    ct
                                );
                                await PaceAsync(stream, audio, offsets[s], duration, ct);
                                await stream.CompleteAsync(ct);
                                var events = await reader;
                                lock (latencies)
                                {
                                    latencies.AddRange(events.Select(e => e.Item1));
                                    inference.AddRange(events.Select(e => e.Item2));
                                    batches.AddRange(events.Select(e => e.Item3));
                                    dropped += stream.WindowsDropped;
                                    peak = Math.Max(peak, Environment.WorkingSet / 1e6);
                                }
                            },
                            ct
                        )
                    )
            );
        }
        return LiveBench.Summarize(
            streams,
            duration,
            latencies,
            inference,
            batches,
            dropped,
            process,
            cpuBefore,
            clock.Elapsed,
            peak,
            objectiveP95Ms
        );
    }

    /// <summary>One point of the live benchmark from what its streams measured (shared by in-process and remote runs).</summary>
    internal static LivePoint Summarize(
        int streams,
        TimeSpan duration,
        List<double> latencies,
        List<double> inference,
        List<int> batches,
        long dropped,
        Process process,
        TimeSpan cpuBefore,
        TimeSpan wall,
        double peak,
        double objectiveP95Ms
    )
    {
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore) / wall / Environment.ProcessorCount * 100;
        var p95 = Stats.Percentile(latencies, 95);
        return new LivePoint(
            streams,
            duration.TotalSeconds,
            latencies.Count,
            Stats.Percentile(latencies, 50),
            p95,
            Stats.Percentile(latencies, 99),
            latencies.Count == 0 ? double.NaN : latencies.Max(),
            Stats.Percentile(inference, 95),
            batches.Count == 0 ? 0 : batches.Average(),
            dropped,
            cpu,
            Math.Max(peak, Environment.WorkingSet / 1e6),
            dropped == 0 && latencies.Count > 0 && p95 <= objectiveP95Ms
        );
    }

    private static async Task PaceAsync(
        EngineStream stream,
        (float[] Interleaved, int Rate, int Channels) audio,
        int startFrame,
        TimeSpan duration,
        CancellationToken ct
    )
    {
        var blockFrames = audio.Rate / 50; // 20 ms
        var frames = audio.Interleaved.Length / audio.Channels;
        var block = new float[blockFrames * audio.Channels];
        var started = Stopwatch.GetTimestamp();
        var position = startFrame;
        for (var k = 0; ; k++)
        {
            var due = TimeSpan.FromMilliseconds(20.0 * (k + 1));
            if (due > duration)
            {
                return;
            }
            for (var i = 0; i < blockFrames; i++)
            {
                var source = (position + i) % frames;
                for (var c = 0; c < audio.Channels; c++)
                {
                    block[i * audio.Channels + c] = audio.Interleaved[source * audio.Channels + c];
                }
            }
            position = (position + blockFrames) % frames;
            // A block is "captured" when its 20 ms have elapsed; send it then, never earlier.
            var wait = due - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, ct);
            }
            await stream.WriteAsync(block, Stopwatch.GetTimestamp(), ct);
        }
    }
}
