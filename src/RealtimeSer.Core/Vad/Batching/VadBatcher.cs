using System.Threading.Channels;

namespace RealtimeSer.Core.Vad.Batching;

/// <summary>
/// Scores Silero frames of many streams and channels in shared model runs. Each channel submits its next
/// frame with its own state and awaits the probability; workers take whatever is pending (up to
/// <see cref="MaxBatch"/> frames, without waiting for more) and run it as one batch. Under light load a batch
/// is a frame or two and nothing waits; as load grows, frames queue while a batch runs and the next batch is
/// larger, which is when the lower per-frame cost of batching pays (docs/benchmarks.md). Each channel's
/// recurrent state and context stay its own; a probability does not depend on the batch it ran in.
/// <para>
/// Pending frames are served oldest channel first (the order the channels were opened), not first come first
/// served. Below capacity every pending frame fits in the next runs and the order changes nothing. Past it,
/// first-come-first-served made every stream equally late, so every live stream shed its audio in fragments and
/// none delivered an event; served by seniority, the established streams keep real-time service while the
/// engine has the cores to itself. Not when other processes share them: the streams' own work then waits in
/// the thread pool's one queue, which this order cannot reach, so live engines keep per-frame VAD by default
/// (docs/reliability.md, known defect).
/// </para>
/// </summary>
public sealed class VadBatcher : IAsyncDisposable
{
    public const int DefaultMaxBatch = 64;

    // Each channel has at most one frame in flight, so the queue holds at most one frame per open channel;
    // the bound only matters beyond that many channels, where a submitter waits for room.
    private const int QueueCapacity = 8192;

    private readonly Channel<VadFrameRequest> _pending;

    // Frames moved off the channel and not yet run, most senior channel first; guarded by itself.
    private readonly PriorityQueue<VadFrameRequest, long> _bySeniority = new();
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
        while (true)
        {
            var count = TakeBatch(reader, requests, states);
            if (count == 0)
            {
                // Nothing pending here. A frame left behind by another worker's full batch is that worker's
                // to run next; this one waits for new frames.
                if (await reader.WaitToReadAsync())
                {
                    continue;
                }
                lock (_bySeniority)
                {
                    if (_bySeniority.Count == 0)
                    {
                        return;
                    }
                }
                continue;
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
            // To the back of the thread pool's queue: a worker that went straight on would hold a core for as
            // long as frames are pending, and under overload they always are, so the streams' own work (taking
            // their audio, windowing) would only get what is left and every stream would fall behind alike.
            await Task.Yield();
        }
    }

    // Moves whatever has arrived into the seniority order and takes the most senior frames, up to a batch.
    private int TakeBatch(
        ChannelReader<VadFrameRequest> reader,
        VadFrameRequest[] requests,
        SileroVadState[] states
    )
    {
        lock (_bySeniority)
        {
            while (reader.TryRead(out var arrived))
            {
                _bySeniority.Enqueue(arrived, arrived.Seniority);
            }
            var count = 0;
            while (count < MaxBatch && _bySeniority.TryDequeue(out var request, out _))
            {
                requests[count] = request;
                states[count] = request.State;
                count++;
            }
            return count;
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
