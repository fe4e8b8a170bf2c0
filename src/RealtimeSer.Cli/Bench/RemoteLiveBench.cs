using System.Diagnostics;
using Grpc.Core;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Bench;

/// <summary>
/// <see cref="LiveBench"/> against a running server: N StreamingRecognize calls, each paced at real time in
/// 20 ms LINEAR16 blocks with interim results on; latency from sending a window's last sample to receiving
/// its result (network both ways included), drops from each stream's final StreamStats. CPU and memory are
/// this client's (the server's are on its own metrics endpoint).
/// </summary>
internal sealed class RemoteLiveBench : ILiveBench
{
    private readonly EmotionRecognizer.EmotionRecognizerClient _client;
    private readonly string _model;
    private readonly (float[] Interleaved, int Rate, int Channels) _audio;

    private RemoteLiveBench(
        EmotionRecognizer.EmotionRecognizerClient client,
        string server,
        string model,
        (float[] Interleaved, int Rate, int Channels) audio,
        double? hopSeconds
    )
    {
        _client = client;
        Server = server;
        _model = model;
        _audio = audio;
        HopSeconds = hopSeconds;
    }

    public string? Server { get; }

    /// <summary>The hop the server recommends for the model (null when it does not list the model).</summary>
    public double? HopSeconds { get; }

    /// <summary>None: a server reports its sessions' shapes on its own /metrics.</summary>
    public SortedDictionary<string, int>? Shapes() => null;

    /// <summary>
    /// Checks that the server takes this recording and asks it for the model's hop; an unreachable server or a
    /// refused key fails here (RpcException, HttpRequestException), before any point.
    /// </summary>
    public static async Task<RemoteLiveBench> ConnectAsync(
        EmotionRecognizer.EmotionRecognizerClient client,
        string server,
        string model,
        (float[] Interleaved, int Rate, int Channels) audio,
        CancellationToken ct
    )
    {
        if (audio.Channels is not (1 or 2))
        {
            throw new ArgumentException(
                $"the server takes 1 or 2 channels; this recording has {audio.Channels}."
            );
        }
        var models = await client.ListModelsAsync(new ListModelsRequest(), cancellationToken: ct);
        var hop = models
            .Models.FirstOrDefault(m => model.Length == 0 ? m.IsDefault : m.Id == model)
            ?.RecommendedHopSeconds;
        return new RemoteLiveBench(client, server, model, audio, hop);
    }

    /// <summary>
    /// The stream time whose sending a result's latency counts from: a window's end for an interim; for a final,
    /// the later of the segment's end and its last window's end. A final comes with its segment's last window,
    /// and a short segment's window is centred on it, reaching up to half a window past the segment's end: from
    /// the segment's end alone, a final's latency would include that wait for audio, which no server can avoid
    /// (up to 1 s with 2 s windows), where the in-process benchmark counts from the audio's arrival.
    /// </summary>
    internal static double LatencyPoint(
        EmotionResult r,
        Dictionary<(int Channel, int Segment), double> lastWindowEnds
    )
    {
        var key = (r.Channel, r.Segment);
        if (!r.IsFinal)
        {
            lastWindowEnds[key] = Math.Max(r.EndSeconds, lastWindowEnds.GetValueOrDefault(key));
            return r.EndSeconds;
        }
        return lastWindowEnds.Remove(key, out var windowEnd)
            ? Math.Max(r.EndSeconds, windowEnd)
            : r.EndSeconds;
    }

    /// <summary>One point; the engine's options are the server's own, so <paramref name="options"/> is not used.</summary>
    public Task<LivePoint> RunAsync(
        int streams,
        TimeSpan duration,
        EngineOptions options,
        double objectiveP95Ms,
        CancellationToken ct
    ) =>
        LiveHarness.RunAsync(
            streams,
            _audio.Interleaved.Length / _audio.Channels,
            duration,
            objectiveP95Ms,
            (_, startFrame) => RunStreamAsync(_client, _model, _audio, startFrame, duration, ct),
            ct
        );

    private static async Task<(
        IReadOnlyList<LiveSample> Samples,
        long Dropped,
        double Shed,
        bool Refused
    )> RunStreamAsync(
        EmotionRecognizer.EmotionRecognizerClient client,
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
        try
        {
            var (samples, dropped, shed) = await StreamAsync(client, config, audio, startFrame, duration, ct);
            return (samples, dropped, shed, false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
        {
            // Refused at admission (stream limit or overload): what a caller past capacity should see.
            return ([], 0, 0, true);
        }
    }

    private static async Task<(IReadOnlyList<LiveSample> Samples, long Dropped, double Shed)> StreamAsync(
        EmotionRecognizer.EmotionRecognizerClient client,
        RecognitionConfig config,
        (float[] Interleaved, int Rate, int Channels) audio,
        int startFrame,
        TimeSpan duration,
        CancellationToken ct
    )
    {
        var timeline = new StreamTimeline();
        await using var call = await client.StartStreamAsync(config, ct);
        var reader = Task.Run(
            async () =>
            {
                var mine = new List<LiveSample>();
                var lastWindowEnds = new Dictionary<(int Channel, int Segment), double>();
                long streamDropped = 0;
                double streamShed = 0;
                while (await call.ReadAsync() is { } response)
                {
                    var received = Stopwatch.GetTimestamp();
                    switch (response.ResponseCase)
                    {
                        case StreamingRecognizeResponse.ResponseOneofCase.Result:
                            var r = response.Result;
                            if (timeline.Find(LatencyPoint(r, lastWindowEnds)) is { } sentAt)
                            {
                                mine.Add(
                                    new LiveSample(
                                        Stopwatch.GetElapsedTime(sentAt, received).TotalMilliseconds,
                                        r.Latency?.InferenceMs ?? 0,
                                        r.Latency?.BatchSize ?? 0,
                                        r.Latency?.EndToEndMs ?? double.NaN
                                    )
                                );
                            }
                            break;
                        case StreamingRecognizeResponse.ResponseOneofCase.StreamStats:
                            // Cumulative: the last one (sent at the end) is the stream's total.
                            streamDropped = response.StreamStats.WindowsDropped;
                            streamShed = response.StreamStats.AudioSecondsShed;
                            break;
                    }
                }
                return ((IReadOnlyList<LiveSample>)mine, streamDropped, streamShed);
            },
            ct
        );
        var bytes = new byte[audio.Rate * LiveHarness.BlockMs / 1000 * audio.Channels * 2];
        await LiveHarness.PaceAsync(
            audio,
            startFrame,
            duration,
            async (block, framesSent) =>
            {
                RemoteEvents.ToLinear16(block, bytes);
                timeline.Add(framesSent / (double)audio.Rate, Stopwatch.GetTimestamp());
                return await call.WriteAsync(
                    new StreamingRecognizeRequest
                    {
                        AudioContent = Google.Protobuf.ByteString.CopyFrom(bytes),
                    }
                );
            },
            ct
        );
        await call.CompleteRequestAsync();
        return await reader;
    }
}
