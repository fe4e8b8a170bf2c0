using System.Buffers.Binary;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Commands;
using RealtimeSer.Core.Ingest;
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
internal static class RemoteReplayRunner
{
    public const double MaxAheadSeconds = 8;

    public static async Task<ReplayStats> RunAsync(
        EmotionRecognizer.EmotionRecognizerClient client,
        ReplayInput input,
        ReplaySettings settings,
        RecognitionConfig template,
        Action<double> onAudio,
        CancellationToken cancellationToken
    )
    {
        var timer = Stopwatch.StartNew();
        using var reader = AudioFile.Open(input.Path);
        var format = reader.Format;
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
        await using var output = new ReplayOutput(settings.OutDir, input, settings.Format, settings.Recipe);
        await using var call = await client.StartStreamAsync(config, cancellationToken);
        StreamStats? last = null;
        var progress = new Progress();
        var reading = Task.Run(
            async () =>
            {
                while (await call.ReadAsync() is { } response)
                {
                    progress.Heard(response);
                    if (response.Result is { } r && (r.IsFinal || !settings.FinalsOnly))
                    {
                        await output.WriteAsync(StreamCommand.ToEvent(r));
                    }
                    else if (response.StreamStats is { } stats)
                    {
                        last = stats;
                    }
                }
            },
            cancellationToken
        );

        // Half a second per message, as in-process replay feeds the engine.
        var frames = Math.Max(1, format.SampleRate / 2);
        var block = new float[frames * format.Channels];
        var bytes = new byte[frames * channels * sizeof(float)];
        int n;
        long sent = 0;
        while ((n = await reader.ReadAsync(block, cancellationToken)) > 0)
        {
            var waiting = Stopwatch.StartNew();
            while (
                progress.Behind(sent / (double)format.SampleRate)
                && !reading.IsCompleted
                && waiting.Elapsed < TimeSpan.FromSeconds(30)
            )
            {
                await Task.Delay(5, cancellationToken);
            }
            sent += n;
            for (var i = 0; i < n; i++)
            {
                if (mix)
                {
                    var sum = 0f;
                    for (var c = 0; c < format.Channels; c++)
                    {
                        sum += block[i * format.Channels + c];
                    }
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), sum / format.Channels);
                }
                else
                {
                    for (var c = 0; c < channels; c++)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(
                            bytes.AsSpan(4 * (i * channels + c)),
                            block[i * channels + c]
                        );
                    }
                }
            }
            var message = new StreamingRecognizeRequest
            {
                AudioContent = ByteString.CopyFrom(bytes, 0, n * channels * sizeof(float)),
            };
            if (!await call.WriteAsync(message))
            {
                break; // the server ended the call: its status comes from the reading side
            }
            onAudio(n / (double)format.SampleRate);
        }
        await call.CompleteRequestAsync();
        await reading;
        var final = last ?? new StreamStats();
        if (final.WindowsDropped > 0)
        {
            throw new InvalidOperationException(
                $"the server dropped {final.WindowsDropped} windows (overloaded); rerun with --resume and fewer -j, or add replicas"
            );
        }
        var result = new ReplayStats(
            final.AudioSeconds,
            timer.Elapsed.TotalSeconds,
            final.WindowsClassified,
            final.WindowsDropped
        );
        await output.CommitAsync(settings.OutDir, input, result);
        return result;
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
