using System.Threading.Tasks.Sources;

namespace RealtimeSer.Core.Vad.Batching;

/// <summary>
/// One channel's run of consecutive frames waiting for the batcher, and the awaitable that completes once all of
/// them are scored. A batch takes as many of its frames as fit, in batches shared with other channels; the
/// channel waits once for the whole run, not once per frame.
/// A channel has one run in flight and reuses this request for every run: scoring allocates nothing.
/// </summary>
internal sealed class VadFrameRequest(SileroVadState state) : IValueTaskSource
{
    // Continuations run on the thread pool, not on the batch worker: the worker goes straight on to the next
    // batch while the streams carry on with their own audio.
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    private static long s_opened;

    private ReadOnlyMemory<float> _frames;
    private float[] _probabilities = new float[16];
    private int _count;
    private int _next;

    public SileroVadState State { get; } = state;

    /// <summary>Order in which the channels were opened: under overload the batcher serves the oldest first.</summary>
    public long Seniority { get; } = Interlocked.Increment(ref s_opened);

    /// <summary>The run's probabilities, frame by frame, once it has completed.</summary>
    public ReadOnlySpan<float> Probabilities => _probabilities.AsSpan(0, _count);

    /// <summary>
    /// Readies the request for a run of whole frames (which must not change until it completes); the returned
    /// task completes once every frame is scored.
    /// </summary>
    public ValueTask Prepare(ReadOnlyMemory<float> frames)
    {
        _frames = frames;
        _count = frames.Length / SileroVadModel.FrameSamples;
        _next = 0;
        if (_probabilities.Length < _count)
        {
            _probabilities = new float[_count];
        }
        _core.Reset();
        return new ValueTask(this, _core.Version);
    }

    /// <summary>Frames of the run not yet scored.</summary>
    public int Remaining => _count - _next;

    /// <summary>The run's next <paramref name="count"/> frames, for the batch about to run.</summary>
    public ReadOnlySpan<float> Next(int count) =>
        _frames.Span.Slice(_next * SileroVadModel.FrameSamples, count * SileroVadModel.FrameSamples);

    /// <summary>Records the probabilities of the frames <see cref="Next"/> gave; true when they were the run's last.</summary>
    public bool Advance(ReadOnlySpan<float> probabilities)
    {
        probabilities.CopyTo(_probabilities.AsSpan(_next));
        _next += probabilities.Length;
        return _next == _count;
    }

    public void Succeed() => _core.SetResult(true);

    public void Fail(Exception error) => _core.SetException(error);

    public void GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(
        Action<object?> continuation,
        object? state,
        short token,
        ValueTaskSourceOnCompletedFlags flags
    ) => _core.OnCompleted(continuation, state, token, flags);
}
