using System.Threading.Tasks.Sources;

namespace RealtimeSer.Core.Vad.Batching;

/// <summary>
/// One channel's frame waiting for a batch, and the awaitable its probability comes back through. A channel
/// has at most one frame in flight (its next frame needs this one's recurrent state), so each channel owns
/// one request and reuses it for every frame: a frame allocates nothing.
/// </summary>
internal sealed class VadFrameRequest(SileroVadState state) : IValueTaskSource<float>
{
    // Continuations run on the thread pool, not on the batch worker: the worker goes straight on to the next
    // batch while the streams carry on with their own audio.
    private ManualResetValueTaskSourceCore<float> _core = new() { RunContinuationsAsynchronously = true };

    private static long s_opened;

    public SileroVadState State { get; } = state;

    /// <summary>Order in which the channels were opened: under overload the batcher serves the oldest first.</summary>
    public long Seniority { get; } = Interlocked.Increment(ref s_opened);

    /// <summary>Readies the request for its next frame; the returned task completes with its probability.</summary>
    public ValueTask<float> Prepare()
    {
        _core.Reset();
        return new ValueTask<float>(this, _core.Version);
    }

    public void Succeed(float probability) => _core.SetResult(probability);

    public void Fail(Exception error) => _core.SetException(error);

    public float GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(
        Action<object?> continuation,
        object? state,
        short token,
        ValueTaskSourceOnCompletedFlags flags
    ) => _core.OnCompleted(continuation, state, token, flags);
}
