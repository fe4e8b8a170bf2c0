namespace RealtimeSer.Core.Vad;

/// <summary>
/// Turns per-frame speech probabilities into speech segments, streaming. The rules are those of Silero's
/// reference <c>get_speech_timestamps</c> (start/end thresholds, minimum speech and silence, padding,
/// splitting over-long speech at its last pause), re-cast so that every decision is made as soon as the
/// frames that justify it have arrived.
/// </summary>
public sealed class VadSegmenter
{
    private readonly int _frameSamples;
    private readonly long _minSpeech;
    private readonly long _minSilence;
    private readonly long _pad;
    private readonly long _maxSpeech;

    // A pause this long inside over-long speech is a good place to split it (Silero's 98 ms).
    private readonly long _minSilenceAtMaxSpeech;

    private long _position; // samples consumed so far
    private bool _triggered;
    private bool _announced;
    private long _start;
    private long _tempEnd = -1;
    private long _prevEnd = -1;
    private long _nextStart = -1;
    private long _lastEnd; // padded end of the last emitted segment: a start never reaches back past it
    private int _segment;

    public VadSegmenter(VadOptions options, int frameSamples = 512, int sampleRate = SpeechSegment.SampleRate)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _frameSamples = frameSamples;
        _minSpeech = options.MinSpeechMs * (long)sampleRate / 1000;
        _minSilence = options.MinSilenceMs * (long)sampleRate / 1000;
        _pad = options.SpeechPadMs * (long)sampleRate / 1000;
        _maxSpeech = (long)(options.MaxSegmentSeconds * sampleRate) - _frameSamples - 2 * _pad;
        _minSilenceAtMaxSpeech = 98L * sampleRate / 1000;
    }

    public VadOptions Options { get; }

    /// <summary>Samples consumed so far (stream time).</summary>
    public long Position => _position;

    /// <summary>True while inside speech that has been announced with a start event.</summary>
    public bool InSpeech => _announced;

    /// <summary>Consumes one frame's probability; appends any transitions it causes to <paramref name="events"/>.</summary>
    public void Push(float probability, List<VadEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var frameStart = _position;
        _position += _frameSamples;
        if (float.IsNaN(probability))
        {
            // A poisoned frame is treated as silence rather than letting NaN compare false everywhere.
            probability = 0;
        }

        if (probability >= Options.StartThreshold && _tempEnd >= 0)
        {
            _tempEnd = -1;
            if (_nextStart < _prevEnd)
            {
                _nextStart = frameStart;
            }
        }

        if (probability >= Options.StartThreshold && !_triggered)
        {
            _triggered = true;
            _announced = false;
            _start = frameStart;
            _prevEnd = _nextStart = -1;
            return;
        }

        if (!_triggered)
        {
            return;
        }

        if (frameStart - _start > _maxSpeech)
        {
            SplitLongSegment(frameStart, events);
            return;
        }

        if (probability < Options.EndThreshold)
        {
            if (_tempEnd < 0)
            {
                _tempEnd = frameStart;
            }
            if (frameStart - _tempEnd > _minSilenceAtMaxSpeech)
            {
                _prevEnd = _tempEnd;
            }
            if (frameStart - _tempEnd >= _minSilence)
            {
                Close(_tempEnd, events);
                return;
            }
        }
        // After the silence bookkeeping, so that a silent frame never counts as confirmed speech.
        AnnounceIfConfirmed(events);
    }

    /// <summary>Ends the stream: an open segment that reached the minimum length ends at the last sample.</summary>
    public void Flush(List<VadEvent> events, long? streamEnd = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (!_triggered)
        {
            return;
        }
        var end = Math.Max(_start, streamEnd ?? _position);
        var speechEnd = _tempEnd >= 0 ? _tempEnd : end;
        if (!_announced && speechEnd - _start > _minSpeech)
        {
            Announce(events);
        }
        if (_announced)
        {
            var paddedEnd = _tempEnd >= 0 ? Math.Min(end, _tempEnd + _pad) : end;
            events.Add(new VadEvent(VadEventKind.SpeechEnd, _segment, paddedEnd));
            _lastEnd = paddedEnd;
            _segment++;
        }
        ResetSpeech();
    }

    /// <summary>
    /// Audio is skipped (shed under overload): open speech ends where the audio stops, as at a stream's end,
    /// and counting resumes <paramref name="skipped"/> samples later with no memory of what came before.
    /// </summary>
    public void Skip(long skipped, List<VadEvent> events)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skipped);
        Flush(events);
        _position += skipped;
        _lastEnd = _position;
    }

    private void AnnounceIfConfirmed(List<VadEvent> events)
    {
        // Only speech up to the current pause counts towards the minimum, so a short burst followed by
        // silence is never announced.
        var speechSoFar = (_tempEnd >= 0 ? _tempEnd : _position) - _start;
        if (!_announced && speechSoFar > _minSpeech)
        {
            Announce(events);
        }
    }

    private void Announce(List<VadEvent> events)
    {
        _announced = true;
        var paddedStart = Math.Max(Math.Max(0, _start - _pad), _lastEnd);
        events.Add(new VadEvent(VadEventKind.SpeechStart, _segment, paddedStart));
    }

    private void Close(long speechEnd, List<VadEvent> events)
    {
        if (speechEnd - _start > _minSpeech)
        {
            if (!_announced)
            {
                Announce(events);
            }
            var paddedEnd = speechEnd + _pad;
            events.Add(new VadEvent(VadEventKind.SpeechEnd, _segment, paddedEnd));
            _lastEnd = paddedEnd;
            _segment++;
        }
        ResetSpeech();
    }

    private void SplitLongSegment(long frameStart, List<VadEvent> events)
    {
        if (!_announced)
        {
            Announce(events);
        }
        if (_prevEnd >= 0)
        {
            // Split at the last real pause; speech after it (if any) becomes the next segment.
            var resumeAt = _nextStart;
            events.Add(new VadEvent(VadEventKind.SpeechEnd, _segment, _prevEnd + _pad));
            _lastEnd = _prevEnd + _pad;
            _segment++;
            if (resumeAt < _prevEnd)
            {
                ResetSpeech();
            }
            else
            {
                _start = resumeAt;
                _announced = false;
                _tempEnd = _prevEnd = _nextStart = -1;
                AnnounceIfConfirmed(events);
            }
            return;
        }
        // No pause at all: cut hard here; the next speech frame opens a new segment straight away.
        events.Add(new VadEvent(VadEventKind.SpeechEnd, _segment, frameStart));
        _lastEnd = frameStart;
        _segment++;
        ResetSpeech();
    }

    private void ResetSpeech()
    {
        _triggered = false;
        _announced = false;
        _tempEnd = _prevEnd = _nextStart = -1;
    }
}
