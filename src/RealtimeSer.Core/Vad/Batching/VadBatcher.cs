using System.Threading.Channels;

namespace RealtimeSer.Core.Vad.Batching;

/// <summary>
/// Scores Silero frames of many streams and channels in shared model runs. Each channel submits its next
/// frame with its own state and awaits the probability; workers take whatever is pending (up to
/// <see cref="MaxBatch"/> frames, without waiting for more) and run it as one batch. Under light load a batch
/// is a frame or two and nothing waits; as load grows, frames queue while a batch runs and the next batch is
/// larger, which is when the lower per-frame cost of batching pays (docs/benchmarks.md). Each channel's
/// recurrent state and context stay its own; a probability does not depend on the batch it ran in.
/// </summary>
public sealed class VadBatcher : IAsyncDisposable
{
    public const int DefaultMaxBatch = 64;

    // Each channel has at most one frame in flight, so the queue holds at most one frame per open channel;
    // the bound only matters beyond that many channels, where a submitter waits for room.
    private const int QueueCapacity = 8192;

    private readonly Channel<VadFrameRequest> _pending;
    private readonly Task[] _workers;
    private readonly Action<int>? _onBatch;
    private long _frames;
    private long _runs;
    private int _disposed;

    /// <param name="model">The shared Silero model (not owned: the caller disposes it after this).</param>
    /// <param name="maxBatch">Most frames in one run.</param>
    /// <param name="workers">Runs in flight at once (0: one per core, so batching never leaves a core idle
    /// that per-stream VAD would have used).</param>
    /// <param name="onBatch">Told each run's batch size (metrics).</param>
    public VadBatcher(
        SileroVadModel model,
        int maxBatch = DefaultMaxBatch,
        int workers = 0,
        Action<int>? onBatch = null
    )
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        Model = model;
        MaxBatch = maxBatch;
        _onBatch = onBatch;
        var count = workers == 0 ? Environment.ProcessorCount : workers;
        _pending = Channel.CreateBounded<VadFrameRequest>(
            new BoundedChannelOptions(QueueCapacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = count == 1,
            }
        );
        _workers = new Task[count];
        for (var i = 0; i < count; i++)
        {
            _workers[i] = Task.Run(WorkAsync);
        }
    }

    public SileroVadModel Model { get; }

    public int MaxBatch { get; }

    /// <summary>Frames scored so far.</summary>
    public long Frames => Interlocked.Read(ref _frames);

    /// <summary>Model runs so far (<see cref="Frames"/> ÷ this is the mean batch).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>
    /// Queues <paramref name="frame"/> for the channel whose request (and state) this is; completes with its
    /// speech probability once its batch has run, the state moved on to the next frame. A channel must await
    /// one frame before it submits the next.
    /// </summary>
    internal ValueTask<float> ScoreAsync(VadFrameRequest request, ReadOnlySpan<float> frame)
    {
        request.State.Load(frame);
        var result = request.Prepare();
        return _pending.Writer.TryWrite(request) ? result : WaitForRoomAsync(request, result);
    }

    private async ValueTask<float> WaitForRoomAsync(VadFrameRequest request, ValueTask<float> result)
    {
        try
        {
            await _pending.Writer.WriteAsync(request);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(VadBatcher), "The VAD batcher was disposed.");
        }
        return await result;
    }

    private async Task WorkAsync()
    {
        var batch = new SileroVadBatch(MaxBatch);
        var requests = new VadFrameRequest[MaxBatch];
        var states = new SileroVadState[MaxBatch];
        var probabilities = new float[MaxBatch];
        var reader = _pending.Reader;
        // Ends when the queue is completed (disposal) and drained: every frame submitted gets its answer.
        while (await reader.WaitToReadAsync())
        {
            var count = 0;
            while (count < MaxBatch && reader.TryRead(out var request))
            {
                requests[count] = request;
                states[count] = request.State;
                count++;
            }
            if (count == 0)
            {
                continue; // another worker took them
            }
            Exception? error = null;
            try
            {
                batch.Run(Model, states.AsSpan(0, count), probabilities);
                Interlocked.Add(ref _frames, count);
                Interlocked.Increment(ref _runs);
                _onBatch?.Invoke(count);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A failed run fails the frames it carried (their streams end with the reason); others go on.
                error = e;
            }
            for (var i = 0; i < count; i++)
            {
                if (error is null)
                {
                    requests[i].Succeed(probabilities[i]);
                }
                else
                {
                    requests[i].Fail(error);
                }
            }
            // Closed streams' states must not stay reachable from here.
            Array.Clear(requests, 0, count);
            Array.Clear(states, 0, count);
        }
    }

    /// <summary>Stops taking frames; frames already queued are still scored. The model is not disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _pending.Writer.TryComplete();
        await Task.WhenAll(_workers);
    }
}
