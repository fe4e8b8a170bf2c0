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
)
{
    /// <summary>Calls the server refused (RESOURCE_EXHAUSTED: its stream limit or adaptive admission).</summary>
    public int Refused { get; init; }

    /// <summary>
    /// p95 of the engine's own end-to-end time (audio's arrival at the engine to its event), as the server reports
    /// it in each result's <c>latency.end_to_end_ms</c>; <see cref="P95Ms"/> in process. Through a server, what
    /// <see cref="P95Ms"/> adds to it is spent in the transport and the client.
    /// </summary>
    public double ServerP95Ms { get; init; } = double.NaN;

    /// <summary>Live audio skipped because streams fell behind (their backlog passed its bound).</summary>
    public double AudioShedSeconds { get; init; }

    /// <summary><see cref="AudioShedSeconds"/> over all the audio sent.</summary>
    public double AudioShedShare { get; init; }

    /// <summary>The engine's VAD batch limit (0: one Silero run per frame); null for a remote server.</summary>
    public int? VadMaxBatch { get; init; }

    /// <summary>VAD frames per Silero run over the point (0 when not batched or remote).</summary>
    public double VadMeanBatch { get; init; }

    /// <summary>Which round of an interleaved comparison (1 when there is one).</summary>
    public int Round { get; init; } = 1;
}

/// <summary>
/// N simulated live calls, each paced at real time in 20 ms blocks (as a telephony gateway sends them), into
/// one in-process engine in live mode; end-to-end latency from each window's last sample to its event.
/// </summary>
internal sealed class LiveBench(
    OnnxEmotionClassifier classifier,
    SileroVadModel vad,
    (float[] Interleaved, int Rate, int Channels) audio
) : ILiveBench
{
    public string? Server => null;

    public double? HopSeconds => classifier.Manifest.RecommendedHopSeconds;

    /// <summary>The sessions of the engines over every point so far.</summary>
    public SortedDictionary<string, int> Shapes() =>
        BenchFormat.Shapes([vad.Session, .. classifier.Sessions]);

    public async Task<LivePoint> RunAsync(
        int streams,
        TimeSpan duration,
        EngineOptions options,
        double objectiveP95Ms,
        CancellationToken ct
    )
    {
        await using var engine = new EmotionEngine(
            classifier,
            vad,
            options with
            {
                Overload = OverloadPolicy.DropOldest,
            }
        );
        var point = await LiveHarness.RunAsync(
            streams,
            audio.Interleaved.Length / audio.Channels,
            duration,
            objectiveP95Ms,
            (s, startFrame) => RunStreamAsync(engine, s, startFrame, duration, ct),
            ct
        );
        point = point with { VadMaxBatch = options.VadMaxBatch };
        return engine.VadBatcher is { Runs: > 0 } batcher
            ? point with
            {
                VadMeanBatch = batcher.Frames / (double)batcher.Runs,
            }
            : point;
    }

    private async Task<(
        IReadOnlyList<LiveSample> Samples,
        long Dropped,
        double Shed,
        bool Refused
    )> RunStreamAsync(
        EmotionEngine engine,
        int index,
        int startFrame,
        TimeSpan duration,
        CancellationToken ct
    )
    {
        await using var stream = engine.OpenStream(
            $"live{index}",
            new StreamFormat(audio.Rate, audio.Channels)
        );
        var reader = Task.Run(
            async () =>
            {
                var mine = new List<LiveSample>();
                await foreach (var e in stream.Events.ReadAllAsync(ct))
                {
                    if (e is EmotionEvent emotion)
                    {
                        mine.Add(
                            new LiveSample(
                                emotion.Latency.EndToEndMs,
                                emotion.Latency.InferenceMs,
                                emotion.Latency.BatchSize,
                                emotion.Latency.EndToEndMs
                            )
                        );
                    }
                }
                return mine;
            },
            ct
        );
        await LiveHarness.PaceAsync(
            audio,
            startFrame,
            duration,
            async (block, _) =>
            {
                await stream.WriteAsync(block, Stopwatch.GetTimestamp(), ct);
                return true;
            },
            ct
        );
        await stream.CompleteAsync(ct);
        return (await reader, stream.WindowsDropped, stream.AudioSecondsShed, false);
    }
}
