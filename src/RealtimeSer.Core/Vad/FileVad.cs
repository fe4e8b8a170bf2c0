using RealtimeSer.Audio;
using RealtimeSer.Core.Ingest;

namespace RealtimeSer.Core.Vad;

/// <summary>Runs VAD over a recorded file, channel by channel, streaming it in blocks.</summary>
public static class FileVad
{
    /// <summary>
    /// Detects speech in <paramref name="path"/>. <paramref name="onSegment"/> receives each segment (with its
    /// analysis channel) as soon as it ends; segments of one channel arrive in order.
    /// </summary>
    public static async Task<FileVadResult> DetectAsync(
        string path,
        SileroVadModel model,
        Action<int, SpeechSegment> onSegment,
        VadOptions? options = null,
        ChannelMode mode = ChannelMode.Split,
        CancellationToken cancellationToken = default
    )
    {
        ArgumentNullException.ThrowIfNull(onSegment);
        using var reader = AudioFile.Open(path);
        var format = reader.Format;
        var normalizer = new StreamNormalizer(format.SampleRate, format.Channels, mode);
        var vads = new StreamingVad[normalizer.OutputChannels];
        var starts = new long[vads.Length];
        for (var c = 0; c < vads.Length; c++)
        {
            vads[c] = new StreamingVad(model, options);
        }
        var events = new List<VadEvent>();
        // About 100 ms per block: small enough to keep memory flat on multi-hour calls.
        var block = new float[Math.Max(1, format.SampleRate / 10) * format.Channels];
        int frames;
        while ((frames = await reader.ReadAsync(block, cancellationToken)) > 0)
        {
            normalizer.Process(block.AsSpan(0, frames * format.Channels));
            Feed(normalizer, vads, starts, events, onSegment, flush: false);
        }
        normalizer.Flush();
        Feed(normalizer, vads, starts, events, onSegment, flush: true);
        return new FileVadResult(format, normalizer.OutputChannels, vads[0].SamplesReceived);
    }

    private static void Feed(
        StreamNormalizer normalizer,
        StreamingVad[] vads,
        long[] starts,
        List<VadEvent> events,
        Action<int, SpeechSegment> onSegment,
        bool flush
    )
    {
        for (var c = 0; c < vads.Length; c++)
        {
            events.Clear();
            vads[c].Process(normalizer.Output(c), events);
            if (flush)
            {
                vads[c].Flush(events);
            }
            foreach (var e in events)
            {
                if (e.Kind == VadEventKind.SpeechStart)
                {
                    starts[c] = e.Sample;
                }
                else
                {
                    onSegment(c, new SpeechSegment(e.Segment, starts[c], e.Sample));
                }
            }
        }
    }
}

/// <summary>What a file VAD run saw: the source format, analysis channels and 16 kHz samples per channel.</summary>
public sealed record FileVadResult(AudioFormat Format, int Channels, long SamplesPerChannel)
{
    public double DurationSeconds => SamplesPerChannel / (double)StreamNormalizer.TargetRate;
}
