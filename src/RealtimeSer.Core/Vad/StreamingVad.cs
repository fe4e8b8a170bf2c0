using System.Runtime.CompilerServices;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Core.Vad;

/// <summary>
/// VAD for one stream and one channel: cuts 16 kHz audio of any block size into 512-sample frames, scores
/// each with the shared Silero model and this stream's own state, and reports speech transitions. With a
/// <see cref="VadBatcher"/>, frames are scored in runs shared with other channels (<see cref="ProcessAsync"/>);
/// without one, each frame runs on the caller's thread.
/// </summary>
public sealed class StreamingVad
{
    private readonly SileroVadModel _model;
    private readonly SileroVadState _state = new();
    private readonly VadBatcher? _batcher;
    private readonly VadFrameRequest? _request;
    private readonly VadSegmenter _segmenter;
    private readonly float[] _frame = new float[SileroVadModel.FrameSamples];
    private int _frameFill;

    // A batched channel's whole frames not yet sent: sent as one run at the end of each block, so the channel
    // waits for the batcher once per block, not once per 32 ms frame. Only batched channels have one.
    private readonly float[]? _run;
    private int _runFrames;
    private const int RunFrames = 32;
    private long _samples;

    public StreamingVad(SileroVadModel model, VadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _segmenter = new VadSegmenter(options ?? VadOptions.Default, SileroVadModel.FrameSamples);
    }

    /// <summary>A channel whose frames are scored in batches shared with other channels.</summary>
    public StreamingVad(VadBatcher batcher, VadOptions? options = null)
        : this((batcher ?? throw new ArgumentNullException(nameof(batcher))).Model, options)
    {
        _batcher = batcher;
        _request = new VadFrameRequest(_state);
        _run = new float[RunFrames * SileroVadModel.FrameSamples];
    }

    /// <summary>16 kHz samples received so far.</summary>
    public long SamplesReceived => _samples;

    /// <summary>Speech probability of the most recent frame.</summary>
    public float LastProbability { get; private set; }

    /// <summary>True while inside announced speech.</summary>
    public bool InSpeech => _segmenter.InSpeech;

    /// <summary>
    /// While set, a batched channel scores its frames on the caller's thread, as an unbatched one does. For a
    /// stream that has fallen behind: through the batcher each frame is a round trip between threads (it waits
    /// for a run, and its continuation for a thread to carry on), and when other processes share the cores every
    /// hop waits for the OS to schedule a thread, so no stream could keep up however senior it was.
    /// </summary>
    public bool ScoreInline { get; set; }

    /// <summary>Frames scored by the model so far.</summary>
    public long FramesScored { get; private set; }

    /// <summary>Frames of digital silence (below −100 dBFS throughout) taken as probability 0 without the model.</summary>
    public long FramesSilent { get; private set; }

    // Below PCM16's smallest step (3e-5): a muted or idle channel, which cannot hold speech.
    private const float SilenceLevel = 1e-5f;
    private bool _silent;

    /// <summary>Scores <paramref name="samples"/> on this thread; for a batched channel use <see cref="ProcessAsync"/>.</summary>
    public void Process(ReadOnlySpan<float> samples, List<VadEvent> events)
    {
        ThrowIfBatched();
        _samples += samples.Length;
        while (!samples.IsEmpty)
        {
            samples = samples[Fill(samples)..];
            if (_frameFill == _frame.Length)
            {
                ScoreFrame(events);
            }
        }
    }

    /// <summary>
    /// Scores <paramref name="samples"/>, in batches shared with other channels when this channel has a
    /// batcher (completes synchronously when it has none). <paramref name="samples"/> must not change until
    /// the returned task completes.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ProcessAsync(ReadOnlyMemory<float> samples, List<VadEvent> events)
    {
        if (_batcher is null)
        {
            Process(samples.Span, events);
            return;
        }
        _samples += samples.Length;
        while (!samples.IsEmpty)
        {
            samples = samples[Fill(samples.Span)..];
            if (_frameFill == _frame.Length)
            {
                await QueueFrameAsync(events);
            }
        }
        await SendRunAsync(events);
    }

    /// <summary>Ends the stream: scores the zero-padded partial frame and closes any open segment.</summary>
    public void Flush(List<VadEvent> events)
    {
        ThrowIfBatched();
        if (_frameFill > 0)
        {
            _frame.AsSpan(_frameFill).Clear();
            ScoreFrame(events);
        }
        _segmenter.Flush(events, _samples);
    }

    /// <summary><see cref="Flush"/> for a channel that may be batched.</summary>
    public async ValueTask FlushAsync(List<VadEvent> events)
    {
        if (_batcher is null)
        {
            Flush(events);
            return;
        }
        if (_frameFill > 0)
        {
            _frame.AsSpan(_frameFill).Clear();
            await QueueFrameAsync(events);
        }
        await SendRunAsync(events);
        _segmenter.Flush(events, _samples);
    }

    // Copies what fits of the next frame; returns the samples taken.
    private int Fill(ReadOnlySpan<float> samples)
    {
        var take = Math.Min(samples.Length, _frame.Length - _frameFill);
        samples[..take].CopyTo(_frame.AsSpan(_frameFill));
        _frameFill += take;
        return take;
    }

    private void ThrowIfBatched()
    {
        if (_batcher is not null)
        {
            throw new InvalidOperationException(
                "this VAD scores its frames through a batcher: call ProcessAsync and FlushAsync."
            );
        }
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
        Accept(IsSilentFrame() ? 0 : Scored(_model.Process(_state, _frame)), events);
    }

    /// <summary>
    /// The full frame joins the run to send, or is handled here: inline scoring, and digital silence (after the
    /// run before it, whose frames come first and must see the state before silence resets it).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask QueueFrameAsync(List<VadEvent> events)
    {
        if (ScoreInline || IsDigitalSilence(_frame))
        {
            await SendRunAsync(events);
            ScoreFrame(events);
            return;
        }
        _frame.CopyTo(_run!.AsSpan(_runFrames * SileroVadModel.FrameSamples));
        _runFrames++;
        _frameFill = 0;
        if (_runFrames == RunFrames)
        {
            await SendRunAsync(events);
        }
    }

    /// <summary>Scores the queued run through the batcher and takes its probabilities in order.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendRunAsync(List<VadEvent> events)
    {
        if (_runFrames == 0)
        {
            return;
        }
        var frames = _runFrames;
        _runFrames = 0;
        _silent = false;
        await _batcher!.ScoreAsync(_request!, _run!.AsMemory(0, frames * SileroVadModel.FrameSamples));
        foreach (var probability in _request!.Probabilities)
        {
            FramesScored++;
            LastProbability = probability;
            _segmenter.Push(probability, events);
        }
    }

    private bool IsSilentFrame()
    {
        if (!IsDigitalSilence(_frame))
        {
            _silent = false;
            return false;
        }
        // No model run: the muted side of a call costs nothing. Speech after it starts from a fresh state, as
        // it would after the zeros the model would have seen.
        if (!_silent)
        {
            _state.Reset();
            _silent = true;
        }
        FramesSilent++;
        return true;
    }

    private float Scored(float probability)
    {
        FramesScored++;
        return probability;
    }

    private void Accept(float probability, List<VadEvent> events)
    {
        LastProbability = probability;
        _frameFill = 0;
        _segmenter.Push(probability, events);
    }
}
