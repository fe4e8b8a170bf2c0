using System.Diagnostics;

namespace RealtimeSer.Cli.Bench;

/// <summary>
/// What one event of a live stream measured. <paramref name="ServerMs"/> is the engine's own end-to-end time (from
/// the arrival of the event's last sample at the engine to the event); it equals <paramref name="LatencyMs"/> in
/// process, and through a server the difference is the transport's and the client's share.
/// </summary>
internal readonly record struct LiveSample(
    double LatencyMs,
    double InferenceMs,
    int BatchSize,
    double ServerMs
);

/// <summary>
/// What the in-process and remote live benchmarks share: N simulated calls that start within a second of
/// each other at random points of the recording (a fixed seed per N), audio paced at real time in 20 ms
/// blocks as a telephony gateway sends it, and one <see cref="LivePoint"/> from what the calls measured.
/// </summary>
internal static class LiveHarness
{
    public const int BlockMs = 20;

    /// <summary>
    /// Runs <paramref name="streams"/> calls; <paramref name="runStream"/> gets the call's index and its
    /// starting frame in the recording and returns its samples, its dropped windows, its shed audio and
    /// whether the server refused the call (a refused call is counted, not an error: past capacity a server
    /// refuses new streams on purpose).
    /// </summary>
    public static async Task<LivePoint> RunAsync(
        int streams,
        int recordingFrames,
        TimeSpan duration,
        double objectiveP95Ms,
        Func<
            int,
            int,
            Task<(IReadOnlyList<LiveSample> Samples, long Dropped, double Shed, bool Refused)>
        > runStream,
        CancellationToken ct
    )
    {
        var samples = new List<LiveSample>();
        long dropped = 0;
        double shed = 0;
        var refused = 0;
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        double peak = Environment.WorkingSet / 1e6;
        var random = new Random(streams);
        var offsets = Enumerable.Range(0, streams).Select(_ => random.Next(recordingFrames)).ToArray();
        var delays = Enumerable.Range(0, streams).Select(_ => random.NextDouble()).ToArray();
        await Task.WhenAll(
            Enumerable
                .Range(0, streams)
                .Select(s =>
                    Task.Run(
                        async () =>
                        {
                            await Task.Delay(TimeSpan.FromSeconds(delays[s]), ct);
                            var (mine, streamDropped, streamShed, streamRefused) = await runStream(
                                s,
                                offsets[s]
                            );
                            lock (samples)
                            {
                                samples.AddRange(mine);
                                dropped += streamDropped;
                                shed += streamShed;
                                refused += streamRefused ? 1 : 0;
                                peak = Math.Max(peak, Environment.WorkingSet / 1e6);
                            }
                        },
                        ct
                    )
                )
        );
        return Summarize(
            streams,
            duration,
            samples,
            dropped,
            shed,
            refused,
            process,
            cpuBefore,
            clock.Elapsed,
            peak,
            objectiveP95Ms
        );
    }

    /// <summary>
    /// Sends the recording, looped from <paramref name="startFrame"/>, in 20 ms blocks of interleaved samples,
    /// each when its 20 ms have elapsed (never earlier), until <paramref name="duration"/>; stops early when
    /// <paramref name="send"/> (given the block and the frames sent with it) returns false.
    /// </summary>
    public static async Task PaceAsync(
        (float[] Interleaved, int Rate, int Channels) audio,
        int startFrame,
        TimeSpan duration,
        Func<float[], long, ValueTask<bool>> send,
        CancellationToken ct
    )
    {
        var blockFrames = audio.Rate * BlockMs / 1000;
        var frames = audio.Interleaved.Length / audio.Channels;
        var block = new float[blockFrames * audio.Channels];
        var started = Stopwatch.GetTimestamp();
        var position = startFrame;
        long framesSent = 0;
        for (var k = 0; ; k++)
        {
            var due = TimeSpan.FromMilliseconds(BlockMs * (k + 1.0));
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
            var wait = due - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, ct);
            }
            framesSent += blockFrames;
            if (!await send(block, framesSent))
            {
                return;
            }
        }
    }

    private static LivePoint Summarize(
        int streams,
        TimeSpan duration,
        List<LiveSample> samples,
        long dropped,
        double shed,
        int refused,
        Process process,
        TimeSpan cpuBefore,
        TimeSpan wall,
        double peak,
        double objectiveP95Ms
    )
    {
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore) / wall / Environment.ProcessorCount * 100;
        var latencies = samples.Select(s => s.LatencyMs).ToList();
        var p95 = Stats.Percentile(latencies, 95);
        var server = samples.Select(s => s.ServerMs).Where(double.IsFinite).ToList();
        return new LivePoint(
            streams,
            duration.TotalSeconds,
            latencies.Count,
            Stats.Percentile(latencies, 50),
            p95,
            Stats.Percentile(latencies, 99),
            latencies.Count == 0 ? double.NaN : latencies.Max(),
            Stats.Percentile(samples.Select(s => s.InferenceMs).ToList(), 95),
            samples.Count == 0 ? 0 : samples.Average(s => s.BatchSize),
            dropped,
            cpu,
            Math.Max(peak, Environment.WorkingSet / 1e6),
            dropped == 0 && shed == 0 && refused == 0 && latencies.Count > 0 && p95 <= objectiveP95Ms
        )
        {
            Refused = refused,
            ServerP95Ms = Stats.Percentile(server, 95),
            AudioShedSeconds = shed,
            AudioShedShare = shed / Math.Max(1e-9, streams * duration.TotalSeconds),
        };
    }
}
