using System.Diagnostics;
using System.Runtime.CompilerServices;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// One channel's VAD gate and windower: keeps a ring of recent 16 kHz audio, runs the VAD over it and cuts
/// each speech segment into windows of W samples every H samples, plus a tail window ending at the
/// segment's end. Speech shorter than a window is judged by one full window centred on it: the models are
/// trained on whole utterances with room sound on both sides, and on the fixture call (earlier model) a
/// centred window agreed with the truth on 61 % of turns where one reaching back from the segment end
/// agreed on 50 %.
/// Such a window waits for up to half a window of audio after the segment; every window of a stream then
/// has the same length, which also lets them batch together.
/// </summary>
internal sealed class ChannelWindower
{
    private const int MaxChunk = 8000; // VAD events are handled at least every 0.5 s of audio
    private const int MinStep = 160; // 10 ms

    private readonly StreamingVad _vad;
    private readonly int _window;
    private readonly int _hop;
    private readonly float[] _ring;
    private readonly List<VadEvent> _vadEvents = [];
    private readonly DcBlocker _dcBlocker = new();
    private readonly float[] _vadInput = new float[MaxChunk];
    private long _written;
    private long _sequence;
    private bool _inSegment;
    private int _segment;
    private long _segmentStart;
    private long _nextWindowStart;
    private long _lastWindowEnd;

    // The latest end of any window cut on this channel, in sequence order: interim results never step back.
    private long _channelEnd;
    private readonly Queue<(long Start, int Segment, long Sequence)> _pendingTails = new();

    /// <param name="batcher">When given, the VAD's frames run in batches shared with other channels.</param>
    public ChannelWindower(
        SileroVadModel model,
        VadBatcher? batcher,
        VadOptions vad,
        int windowSamples,
        int hopSamples,
        int minWindowSamples
    )
    {
        _vad = batcher is null ? new StreamingVad(model, vad) : new StreamingVad(batcher, vad);
        _window = Math.Max(windowSamples, minWindowSamples);
        _hop = hopSamples;
        // Room for a full window plus the VAD's back-dating (minimum speech, padding) with ample slack.
        _ring = new float[windowSamples + 4 * 16000 + MaxChunk];
    }

    public long SamplesWritten => _written;

    public bool InSpeech => _inSegment;

    public float LastProbability => _vad.LastProbability;

    /// <summary>Scores this channel's VAD frames on the caller's thread even when batched (<see cref="StreamingVad.ScoreInline"/>).</summary>
    public bool VadInline
    {
        set => _vad.ScoreInline = value;
    }

    /// <summary>
    /// Adds audio; appends the windows and speech boundaries it completes. Completes synchronously unless the
    /// VAD is batched; <paramref name="samples"/> must not change until it completes.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask AppendAsync(
        ReadOnlyMemory<float> samples,
        long arrivedAt,
        ChannelState owner,
        List<WindowJob> jobs,
        List<SpeechEvent> speech
    )
    {
        var profile = owner.Profile;
        while (!samples.IsEmpty)
        {
            var started = Stopwatch.GetTimestamp();
            var chunk = samples[..Math.Min(samples.Length, MaxChunk)];
            samples = samples[chunk.Length..];
            WriteRing(chunk.Span);
            _vadEvents.Clear();
            var filtered = _dcBlocker.Filter(chunk.Span, _vadInput).Length;
            profile.AddWindowing(started);
            await _vad.ProcessAsync(_vadInput.AsMemory(0, filtered), _vadEvents);
            started = Stopwatch.GetTimestamp();
            HandleVadEvents(arrivedAt, owner, jobs, speech);
            profile.AddWindowing(started);
        }
    }

    /// <summary>
    /// Skips <paramref name="samples"/> of audio (live load shedding): an open segment ends where the kept
    /// audio ends, with its windows; stream time moves on, and the skipped span reads as silence.
    /// </summary>
    public void Skip(
        long samples,
        long arrivedAt,
        ChannelState owner,
        List<WindowJob> jobs,
        List<SpeechEvent> speech
    )
    {
        _vadEvents.Clear();
        _vad.Skip(samples, _vadEvents);
        HandleVadEvents(arrivedAt, owner, jobs, speech);
        CutPendingTails(arrivedAt, owner, jobs);
        var clear = (int)Math.Min(samples, _ring.Length);
        var position = (int)(_written % _ring.Length);
        var first = Math.Min(clear, _ring.Length - position);
        _ring.AsSpan(position, first).Clear();
        _ring.AsSpan(0, clear - first).Clear();
        _written += samples;
    }

    /// <summary>End of stream: closes an open segment with its tail window.</summary>
    public async ValueTask FlushAsync(
        long arrivedAt,
        ChannelState owner,
        List<WindowJob> jobs,
        List<SpeechEvent> speech
    )
    {
        _vadEvents.Clear();
        await _vad.FlushAsync(_vadEvents);
        HandleVadEvents(arrivedAt, owner, jobs, speech);
        CutPendingTails(arrivedAt, owner, jobs);
    }

    // No more audio will come (the stream ended, or what follows is skipped): centred windows still waiting
    // end at the last audio instead.
    private void CutPendingTails(long arrivedAt, ChannelState owner, List<WindowJob> jobs)
    {
        while (_pendingTails.TryDequeue(out var tail))
        {
            jobs.Add(
                Cut(
                    Math.Min(tail.Start, _written - _window),
                    _window,
                    arrivedAt,
                    owner,
                    tail.Segment,
                    tail.Sequence
                )
            );
        }
    }

    private void HandleVadEvents(
        long arrivedAt,
        ChannelState owner,
        List<WindowJob> jobs,
        List<SpeechEvent> speech
    )
    {
        while (_pendingTails.TryPeek(out var tail) && tail.Start + _window <= _written)
        {
            _pendingTails.Dequeue();
            jobs.Add(Cut(tail.Start, _window, arrivedAt, owner, tail.Segment, tail.Sequence));
        }
        foreach (var e in _vadEvents)
        {
            if (e.Kind == VadEventKind.SpeechStart)
            {
                _inSegment = true;
                _segment = e.Segment;
                _segmentStart = e.Sample;
                _nextWindowStart = e.Sample;
                _lastWindowEnd = e.Sample;
                speech.Add(
                    new SpeechEvent(owner.StreamId, owner.Channel, e.Segment, true, e.Sample / 16000.0)
                    {
                        ChannelName = owner.ChannelName,
                    }
                );
            }
            else
            {
                EmitFullWindows(Math.Min(e.Sample, _written), arrivedAt, owner, jobs);
                EmitTail(e.Sample, arrivedAt, owner, jobs);
                _inSegment = false;
                speech.Add(
                    new SpeechEvent(owner.StreamId, owner.Channel, e.Segment, false, e.Sample / 16000.0)
                    {
                        ChannelName = owner.ChannelName,
                        StartSeconds = _segmentStart / 16000.0,
                        LastWindowSequence = _sequence - 1,
                        ArrivedAt = arrivedAt,
                    }
                );
            }
        }
        if (_inSegment)
        {
            EmitFullWindows(_written, arrivedAt, owner, jobs);
        }
    }

    private void EmitFullWindows(long availableEnd, long arrivedAt, ChannelState owner, List<WindowJob> jobs)
    {
        while (_nextWindowStart + _window <= availableEnd)
        {
            // A segment that starts right after the last one can have early windows ending before the last
            // window of the segment before (cut up to the audio then in, past that segment's back-dated end).
            if (_nextWindowStart + _window > _channelEnd)
            {
                jobs.Add(Cut(_nextWindowStart, _window, arrivedAt, owner));
                _lastWindowEnd = _nextWindowStart + _window;
            }
            _nextWindowStart += _hop;
        }
    }

    private void EmitTail(long segmentEnd, long arrivedAt, ChannelState owner, List<WindowJob> jobs)
    {
        var end = Math.Min(segmentEnd, _written);
        if (_lastWindowEnd >= end)
        {
            // A window already reaches the segment's end: the VAD dates an end back to the last speech, after
            // windows were cut up to the audio then in. Another would step back and repeat what was sent.
            return;
        }
        var length = end - _segmentStart;
        if (length >= _window)
        {
            if (end > _channelEnd)
            {
                jobs.Add(Cut(end - _window, _window, arrivedAt, owner));
            }
            return;
        }
        // Short speech: one full window centred on it, cut now if its audio is in, else when it arrives. Its
        // sequence number is taken now so that the segment's end knows its last window. Where a window already
        // sent ends as late (the segment right after another, with short windows), it ends 10 ms after that
        // one instead: never the same window twice, never a step back.
        var start = Math.Max(0, _segmentStart + length / 2 - _window / 2);
        if (start + _window <= _channelEnd)
        {
            start = _channelEnd - _window + MinStep;
        }
        _channelEnd = Math.Max(_channelEnd, start + _window);
        if (start + _window <= _written)
        {
            jobs.Add(Cut(start, _window, arrivedAt, owner));
        }
        else
        {
            _pendingTails.Enqueue((start, _segment, _sequence++));
        }
    }

    private WindowJob Cut(long start, int length, long arrivedAt, ChannelState owner) =>
        Cut(start, length, arrivedAt, owner, _segment, _sequence++);

    private WindowJob Cut(
        long start,
        int length,
        long arrivedAt,
        ChannelState owner,
        int segment,
        long sequence
    )
    {
        _channelEnd = Math.Max(_channelEnd, start + length);
        var samples = EnginePool.Floats.Rent(length);
        var destination = samples.AsSpan(0, length);
        var oldest = Math.Max(0, _written - _ring.Length);
        var from = start;
        if (from < oldest)
        {
            // Before the stream began (or, defensively, out of the ring): silence.
            var missing = (int)Math.Min(length, oldest - from);
            destination[..missing].Clear();
            destination = destination[missing..];
            from += missing;
        }
        CopyFromRing(from, destination);
        return new WindowJob
        {
            Owner = owner,
            Sequence = sequence,
            Segment = segment,
            StartSample = start,
            EndSample = start + length,
            Samples = samples,
            Length = length,
            ArrivedAt = arrivedAt,
        };
    }

    private void WriteRing(ReadOnlySpan<float> chunk)
    {
        var position = (int)(_written % _ring.Length);
        var first = Math.Min(chunk.Length, _ring.Length - position);
        Sanitize(chunk[..first], _ring.AsSpan(position, first));
        Sanitize(chunk[first..], _ring.AsSpan(0, chunk.Length - first));
        _written += chunk.Length;
    }

    private void CopyFromRing(long from, Span<float> destination)
    {
        var position = (int)(from % _ring.Length);
        var first = Math.Min(destination.Length, _ring.Length - position);
        _ring.AsSpan(position, first).CopyTo(destination);
        _ring.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    private static void Sanitize(ReadOnlySpan<float> source, Span<float> destination)
    {
        // Bad input (NaN, infinities, over-range) must never reach the model or poison scores.
        if (SampleRange.AllWithinUnit(source))
        {
            source.CopyTo(destination);
            return;
        }
        for (var i = 0; i < source.Length; i++)
        {
            var x = source[i];
            destination[i] = float.IsNaN(x) ? 0f : Math.Clamp(x, -1f, 1f);
        }
    }
}
