using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Replay;

/// <summary>
/// <c>ser replay --server URL</c>: replays one recording through a running service (one StreamingRecognize
/// call, FLOAT32 samples, as fast as the server keeps up) and writes the same outputs as an in-process
/// replay. The call says <c>recorded</c>, so the server never sheds it or drops its windows; the client also
/// keeps to at most <see cref="MaxAheadSeconds"/> of audio beyond the latest result while speech is open, so
/// that a server older than that field (which treats every stream as live) still keeps up. A failed call, or
/// one where the server still dropped windows, fails the file (nothing half-written is kept; <c>--resume</c>
/// redoes it).
/// </summary>
internal sealed class RemoteReplayRunner(
    EmotionRecognizer.EmotionRecognizerClient client,
    ReplaySettings settings,
    RecognitionConfig template
)
{
    public const double MaxAheadSeconds = 8;

    /// <summary>How long the client waits for the server to catch up before it sends anyway.</summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    public async Task<ReplayStats> RunAsync(ReplayInput input, Action<double> onAudio, CancellationToken ct)
    {
        var timer = Stopwatch.StartNew();
        using var reader = AudioFile.Open(input.Path);
        var config = Config(reader.Format);
        await using var output = new ReplayOutput(settings.OutDir, input, settings.Format, settings.Recipe);
        await using var call = await client.StartStreamAsync(config, ct);
        var progress = new Progress();
        var reading = Task.Run(() => ReceiveAsync(call, output, progress), ct);
        await SendAsync(call, reader, settings.Mode == ChannelMode.Mix, progress, reading, onAudio, ct);
        await call.CompleteRequestAsync();
        var stats = Checked(await reading ?? new StreamStats(), timer.Elapsed);
        await output.CommitAsync(settings.OutDir, input, stats);
        return stats;
    }

    /// <summary>The stream's totals, from its last stats; a stream the server dropped windows of fails.</summary>
    private static ReplayStats Checked(StreamStats last, TimeSpan elapsed) =>
        last.WindowsDropped > 0
            ? throw new InvalidOperationException(
                $"the server dropped {last.WindowsDropped} windows (overloaded); rerun with --resume and fewer -j, or add replicas"
            )
            : new(last.AudioSeconds, elapsed.TotalSeconds, last.WindowsClassified, last.WindowsDropped);

    /// <summary>The call's config for one recording: FLOAT32 at its rate, its channels (one with --mix), recorded.</summary>
    private RecognitionConfig Config(AudioFormat format)
    {
        var mix = settings.Mode == ChannelMode.Mix;
        var channels = mix ? 1 : format.Channels;
        if (channels is not (1 or 2))
        {
            throw new ArgumentException(
                $"the server takes 1 or 2 channels; this file has {format.Channels} (use --mix)."
            );
        }
        var config = template.Clone();
        config.Encoding = AudioEncoding.Float32;
        config.SampleRateHertz = format.SampleRate;
        config.AudioChannelCount = channels;
        // Interim results are the progress signal for pacing; --finals-only filters them here.
        config.InterimResults = true;
        config.Recorded = true;
        config.ChannelNames.Clear();
        if (!mix && settings.ChannelNames is { } names)
        {
            config.ChannelNames.AddRange(names.Take(channels));
        }
        return config;
    }

    /// <summary>Writes the results as events and follows the server's progress; returns its last stream stats.</summary>
    private async Task<StreamStats?> ReceiveAsync(
        StreamingCall<StreamingRecognizeRequest, StreamingRecognizeResponse> call,
        ReplayOutput output,
        Progress progress
    )
    {
        StreamStats? last = null;
        while (await call.ReadAsync() is { } response)
        {
            progress.Heard(response);
            if (response.Result is { } r && (r.IsFinal || !settings.FinalsOnly))
            {
                await output.WriteAsync(RemoteEvents.ToEvent(r));
            }
            else if (response.StreamStats is { } stats)
            {
                last = stats;
            }
        }
        return last;
    }

    /// <summary>
    /// Sends the recording half a second per message, as in-process replay feeds the engine, holding back while
    /// the server is more than <see cref="MaxAheadSeconds"/> behind inside speech.
    /// </summary>
    private static async Task SendAsync(
        StreamingCall<StreamingRecognizeRequest, StreamingRecognizeResponse> call,
        IAudioReader reader,
        bool mix,
        Progress progress,
        Task reading,
        Action<double> onAudio,
        CancellationToken ct
    )
    {
        var format = reader.Format;
        var frames = Math.Max(1, (int)(format.SampleRate * RecordingRun.BlockSeconds));
        var block = new float[frames * format.Channels];
        var mono = new float[frames];
        var bytes = new byte[block.Length * sizeof(float)];
        int n;
        long sent = 0;
        while ((n = await reader.ReadAsync(block, ct)) > 0)
        {
            var waiting = Stopwatch.StartNew();
            while (
                progress.Behind(sent / (double)format.SampleRate)
                && !reading.IsCompleted
                && waiting.Elapsed < MaxWait
            )
            {
                await Task.Delay(5, ct);
            }
            sent += n;
            var samples = block.AsSpan(0, n * format.Channels);
            if (mix)
            {
                ChannelMixer.Downmix(samples, format.Channels, mono);
            }
            var length = RemoteEvents.ToFloat32(mix ? mono.AsSpan(0, n) : samples, bytes);
            var message = new StreamingRecognizeRequest
            {
                AudioContent = ByteString.CopyFrom(bytes, 0, length),
            };
            if (!await call.WriteAsync(message))
            {
                break; // the server ended the call: its status comes from the reading side
            }
            onAudio(n / (double)format.SampleRate);
        }
    }

    /// <summary>How far the server has got: the latest event time, and whether speech is open.</summary>
    private sealed class Progress
    {
        private readonly Lock _lock = new();
        private double _heard;
        private int _open;

        public void Heard(StreamingRecognizeResponse response)
        {
            lock (_lock)
            {
                if (response.SpeechEvent is { } s)
                {
                    _open += s.Type == Grpc.V1.SpeechEvent.Types.Type.SpeechStart ? 1 : -1;
                    _heard = Math.Max(_heard, s.TimeOffsetSeconds);
                }
                else if (response.Result is { } r)
                {
                    _heard = Math.Max(_heard, r.EndSeconds);
                }
            }
        }

        public bool Behind(double sentSeconds)
        {
            lock (_lock)
            {
                return _open > 0 && sentSeconds - _heard > MaxAheadSeconds;
            }
        }
    }
}
