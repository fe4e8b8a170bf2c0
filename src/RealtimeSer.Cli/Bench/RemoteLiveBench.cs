using System.Diagnostics;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Bench;

/// <summary>
/// <see cref="LiveBench"/> against a running server: N StreamingRecognize calls, each paced at real time in
/// 20 ms LINEAR16 blocks with interim results on; latency from sending a window's last sample to receiving
/// its result (network both ways included), drops from each stream's final StreamStats. CPU and memory are
/// this client's (the server's are on its own metrics endpoint).
/// </summary>
internal static class RemoteLiveBench
{
    public static async Task<LivePoint> RunAsync(
        EmotionRecognizerClient client,
        string model,
        (float[] Interleaved, int Rate, int Channels) audio,
        int streams,
        TimeSpan duration,
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
                            var (mine, streamDropped) = await RunStreamAsync(
                                client,
                                model,
                                audio,
                                offsets[s],
                                duration,
                                ct
                            );
                            lock (latencies)
                            {
                                latencies.AddRange(mine.Select(e => e.Latency));
                                inference.AddRange(mine.Select(e => e.Inference));
                                batches.AddRange(mine.Select(e => e.Batch));
                                dropped += streamDropped;
                                peak = Math.Max(peak, Environment.WorkingSet / 1e6);
                            }
                        },
                        ct
                    )
                )
        );
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

    private static async Task<(
        List<(double Latency, double Inference, int Batch)> Events,
        long Dropped
    )> RunStreamAsync(
        EmotionRecognizerClient client,
        string model,
        (float[] Interleaved, int Rate, int Channels) audio,
        int startFrame,
        TimeSpan duration,
        CancellationToken ct
    )
    {
        var config = new RecognitionConfig
        {
            Encoding = AudioEncoding.Linear16,
            SampleRateHertz = audio.Rate,
            AudioChannelCount = audio.Channels,
            Model = model,
            InterimResults = true,
        };
        var timeline = new StreamTimeline();
        await using var call = await client.StreamingRecognizeAsync(config, ct);
        var reader = Task.Run(
            async () =>
            {
                var mine = new List<(double, double, int)>();
                long streamDropped = 0;
                while (await call.ReadAsync() is { } response)
                {
                    var received = Stopwatch.GetTimestamp();
                    switch (response.ResponseCase)
                    {
                        case StreamingRecognizeResponse.ResponseOneofCase.Result:
                            var r = response.Result;
                            if (timeline.Find(r.EndSeconds) is { } sentAt)
                            {
                                mine.Add(
                                    (
                                        Stopwatch.GetElapsedTime(sentAt, received).TotalMilliseconds,
                                        r.Latency?.InferenceMs ?? 0,
                                        r.Latency?.BatchSize ?? 0
                                    )
                                );
                            }
                            break;
                        case StreamingRecognizeResponse.ResponseOneofCase.StreamStats:
                            // Cumulative: the last one (sent at the end) is the stream's total.
                            streamDropped = response.StreamStats.WindowsDropped;
                            break;
                    }
                }
                return (mine, streamDropped);
            },
            ct
        );
        var blockFrames = audio.Rate / 50; // 20 ms
        var frames = audio.Interleaved.Length / audio.Channels;
        var block = new float[blockFrames * audio.Channels];
        var bytes = new byte[block.Length * 2];
        var started = Stopwatch.GetTimestamp();
        var position = startFrame;
        long framesSent = 0;
        for (var k = 0; ; k++)
        {
            var due = TimeSpan.FromMilliseconds(20.0 * (k + 1));
            if (due > duration)
            {
                break;
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
            RemoteEvents.ToLinear16(block, bytes);
            // A block is "captured" when its 20 ms have elapsed; send it then, never earlier.
            var wait = due - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, ct);
            }
            framesSent += blockFrames;
            timeline.Add(framesSent / (double)audio.Rate, Stopwatch.GetTimestamp());
            if (
                !await call.WriteAsync(
                    new StreamingRecognizeRequest
                    {
                        AudioContent = Google.Protobuf.ByteString.CopyFrom(bytes),
                    }
                )
            )
            {
                break;
            }
        }
        await call.CompleteRequestAsync();
        return await reader;
    }
}
