using System.Buffers.Binary;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc.V1;
using WireSpeech = RealtimeSer.Grpc.V1.SpeechEvent;

namespace RealtimeSer.Cli.Remote;

/// <summary>Server responses (StreamingRecognize) as the engine's own events, so one output path serves both.</summary>
internal static class RemoteEvents
{
    /// <summary>The stream name remote events carry.</summary>
    public const string StreamName = "grpc";

    /// <summary>An engine event with the same fields, so --json writes exactly the EventJson schema.</summary>
    public static EmotionEvent ToEvent(EmotionResult r, string stream = StreamName) =>
        new(
            stream,
            r.Channel,
            r.Segment,
            r.StartSeconds,
            r.EndSeconds,
            r.Label,
            r.Scores.Select(s => s.Label).ToArray(),
            r.Scores.Select(s => s.Score).ToArray(),
            r.IsFinal,
            new EventLatency(
                r.Latency?.QueueMs ?? 0,
                r.Latency?.InferenceMs ?? 0,
                r.Latency?.BatchSize ?? 0,
                r.Latency?.EndToEndMs ?? 0
            )
        )
        {
            ChannelName = r.ChannelName.Length > 0 ? r.ChannelName : null,
            Windows = r.Windows,
            WindowsDropped = r.WindowsDropped,
            Models =
            [
                .. r.Models.Select(m => new ModelScores(
                    m.Model,
                    m.Label,
                    m.Scores.Select(s => s.Label).ToArray(),
                    m.Scores.Select(s => s.Score).ToArray(),
                    m.InferenceMs
                )),
            ],
        };

    /// <summary>A speech boundary as the engine reports it.</summary>
    public static Core.Pipeline.SpeechEvent ToSpeechEvent(WireSpeech s, string stream = StreamName) =>
        new(stream, s.Channel, s.Segment, s.Type == WireSpeech.Types.Type.SpeechStart, s.TimeOffsetSeconds)
        {
            ChannelName = s.ChannelName.Length > 0 ? s.ChannelName : null,
            StartSeconds = s.SegmentStartSeconds,
        };

    /// <summary>The same event with its end-to-end latency measured on this side of the wire.</summary>
    public static EmotionEvent WithEndToEnd(EmotionEvent e, double endToEndMs) =>
        e with
        {
            Latency = e.Latency with { EndToEndMs = endToEndMs },
        };

    /// <summary>Float samples in [-1, 1] as LINEAR16 little-endian bytes; returns the bytes written.</summary>
    public static int ToLinear16(ReadOnlySpan<float> samples, Span<byte> bytes)
    {
        for (var i = 0; i < samples.Length; i++)
        {
            var s = (short)Math.Clamp(MathF.Round(samples[i] * 32767f), short.MinValue, short.MaxValue);
            BinaryPrimitives.WriteInt16LittleEndian(bytes[(2 * i)..], s);
        }
        return samples.Length * 2;
    }

    /// <summary>Float samples as FLOAT32 little-endian bytes, unchanged; returns the bytes written.</summary>
    public static int ToFloat32(ReadOnlySpan<float> samples, Span<byte> bytes)
    {
        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes[(4 * i)..], samples[i]);
        }
        return samples.Length * 4;
    }
}

/// <summary>
/// Which wall-clock moment each piece of sent audio stands for, by stream time: one mark per block sent
/// (stream seconds after its last frame, a Stopwatch timestamp). A result's end time finds the block that
/// carried the window's last sample, the first mark at or after it. Marks come in stream order; thread-safe.
/// </summary>
internal sealed class StreamTimeline
{
    private readonly object _gate = new();
    private readonly List<(double Seconds, long At)> _marks = [];

    public void Add(double seconds, long at)
    {
        lock (_gate)
        {
            _marks.Add((seconds, at));
        }
    }

    /// <summary>The timestamp of the first block that reached <paramref name="seconds"/>; null when none has yet.</summary>
    public long? Find(double seconds)
    {
        lock (_gate)
        {
            int lo = 0,
                hi = _marks.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_marks[mid].Seconds + 1e-6 >= seconds)
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }
            return lo < _marks.Count ? _marks[lo].At : null;
        }
    }
}
