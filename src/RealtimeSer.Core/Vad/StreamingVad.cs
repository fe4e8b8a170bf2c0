namespace RealtimeSer.Core.Vad;

/// <summary>
/// VAD for one stream and one channel: cuts 16 kHz audio of any block size into 512-sample frames, scores
/// each with the shared Silero model and this stream's own state, and reports speech transitions.
/// </summary>
public sealed class StreamingVad
{
    private readonly SileroVadModel _model;
    private readonly SileroVadState _state = new();
    private readonly VadSegmenter _segmenter;
    private readonly float[] _frame = new float[SileroVadModel.FrameSamples];
    private int _frameFill;
    private long _samples;

    public StreamingVad(SileroVadModel model, VadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _segmenter = new VadSegmenter(options ?? VadOptions.Default, SileroVadModel.FrameSamples);
    }

    /// <summary>16 kHz samples received so far.</summary>
    public long SamplesReceived => _samples;

    /// <summary>Speech probability of the most recent frame.</summary>
    public float LastProbability { get; private set; }

    /// <summary>True while inside announced speech.</summary>
    public bool InSpeech => _segmenter.InSpeech;

    /// <summary>Frames scored by the model so far.</summary>
    public long FramesScored { get; private set; }

    /// <summary>Frames of digital silence (below −100 dBFS throughout) taken as probability 0 without the model.</summary>
    public long FramesSilent { get; private set; }

    // Below PCM16's smallest step (3e-5): a muted or idle channel, which cannot hold speech.
    private const float SilenceLevel = 1e-5f;
    private bool _silent;

    public void Process(ReadOnlySpan<float> samples, List<VadEvent> events)
    {
        _samples += samples.Length;
        while (!samples.IsEmpty)
        {
            var take = Math.Min(samples.Length, _frame.Length - _frameFill);
            samples[..take].CopyTo(_frame.AsSpan(_frameFill));
            _frameFill += take;
            samples = samples[take..];
            if (_frameFill == _frame.Length)
            {
                ScoreFrame(events);
            }
        }
    }

    /// <summary>Ends the stream: scores the zero-padded partial frame and closes any open segment.</summary>
    public void Flush(List<VadEvent> events)
    {
        if (_frameFill > 0)
        {
            _frame.AsSpan(_frameFill).Clear();
            ScoreFrame(events);
        }
        _segmenter.Flush(events, _samples);
    }

    private static bool IsDigitalSilence(ReadOnlySpan<float> frame)
    {
        foreach (var x in frame)
        {
            if (Math.Abs(x) >= SilenceLevel)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Skips <paramref name="samples"/> of audio without scoring them (load shedding): the partial frame is
    /// dropped too, open speech ends where scored audio stops, and the recurrent state starts afresh.
    /// </summary>
    public void Skip(long samples, List<VadEvent> events)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        _segmenter.Skip(_frameFill + samples, events);
        _samples += samples;
        _frameFill = 0;
        _state.Reset();
    }

    private void ScoreFrame(List<VadEvent> events)
    {
        if (IsDigitalSilence(_frame))
        {
            // No model run: the muted side of a call costs nothing. Speech after it starts from a fresh state,
            // as it would after the zeros the model would have seen.
            if (!_silent)
            {
                _state.Reset();
                _silent = true;
            }
            LastProbability = 0;
            FramesSilent++;
        }
        else
        {
            _silent = false;
            LastProbability = _model.Process(_state, _frame);
            FramesScored++;
        }
        _frameFill = 0;
        _segmenter.Push(LastProbability, events);
    }
}
