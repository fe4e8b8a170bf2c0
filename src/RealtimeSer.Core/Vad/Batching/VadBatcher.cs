namespace RealtimeSer.Core.Vad.Batching;

/// <summary>
/// Scores Silero frames of many streams and channels in shared model runs. Each channel submits the run of
/// frames it has (a live chunk is a frame or three, a recording's block fifteen) with its own state and awaits
/// their probabilities; workers take the most senior channels' frames, whole runs where they fit (up to
/// <see cref="MaxBatch"/> frames, without waiting for more), score them in one batch
/// (<see cref="SileroVadBatch"/>: with the split model a channel's frames share the encoder run and its LSTM
/// steps follow in order), then put runs with frames left back in line. The channel waits for its thread once
/// per run, not once per frame. Under light load a batch is a frame or two and nothing waits; as load grows,
/// frames queue while a batch runs and the next batch is larger, which is when the lower per-frame cost of
/// batching pays (docs/benchmarks.md). Batches are a power of two of frames, so the session sees at most seven
/// shapes. Each channel's recurrent state and context stay its own; a probability does not depend on the batch
/// it ran in.
/// <para>
/// Pending frames are served oldest channel first (the order the channels were opened), not first come first
/// served. Below capacity every pending frame fits in the next runs and the order changes nothing. Past it,
/// first-come-first-served made every stream equally late, so every live stream shed its audio in fragments and
/// none delivered an event; served by seniority, the established streams keep real-time service.
/// </para>
/// <para>
/// The workers are dedicated threads, not thread-pool work items: under live overload the pool's queue holds tens
/// of thousands of audio writes a second, and a run that waited behind them made every frame's round trip
/// (its run, then its stream's continuation) longer than the frame. A stream that falls behind all the same
/// scores its frames on its own thread until it has caught up (<see cref="StreamingVad.ScoreInline"/>).
/// </para>
/// </summary>
public sealed class VadBatcher : IAsyncDisposable
{
    public const int DefaultMaxBatch = 64;

    // Runs of frames submitted and not yet done, most senior channel first. Each channel has at most one run in
    // flight, so this holds at most one entry per open channel. Guarded by itself, which idle workers also wait on.
    private readonly PriorityQueue<VadFrameRequest, long> _bySeniority = new();
    private readonly Task[] _workers;
    private readonly Action<int>? _onBatch;
    private long _frames;
    private long _runs;

    // Frames of the queued runs not yet taken; guarded by _bySeniority.
    private long _pendingFrames;
    private int _idle;
    private bool _stopping;

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
        _workers = new Task[workers == 0 ? Environment.ProcessorCount : workers];
        for (var i = 0; i < _workers.Length; i++)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _workers[i] = done.Task;
            new Thread(() => Work(done)) { IsBackground = true, Name = $"ser-vad-batch-{i}" }.Start();
        }
    }

    public SileroVadModel Model { get; }

    public int MaxBatch { get; }

    /// <summary>Frames scored so far.</summary>
    public long Frames => Interlocked.Read(ref _frames);

    /// <summary>Model runs so far (<see cref="Frames"/> ÷ this is the mean batch).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>
    /// Queues <paramref name="frames"/> (whole frames, one after another) for the channel whose request (and
    /// state) this is; completes once every frame is scored, the probabilities in the request and the state moved
    /// on past the last frame. A channel must await one run before it submits the next.
    /// </summary>
    internal ValueTask ScoreAsync(VadFrameRequest request, ReadOnlyMemory<float> frames)
    {
        var result = request.Prepare(frames);
        lock (_bySeniority)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            _bySeniority.Enqueue(request, request.Seniority);
            _pendingFrames += request.Remaining;
            if (_idle > 0)
            {
                Monitor.Pulse(_bySeniority);
            }
        }
        return result;
    }

    private void Work(TaskCompletionSource done)
    {
        var batch = new SileroVadBatch(MaxBatch);
        var requests = new VadFrameRequest[MaxBatch];
        var states = new SileroVadState[MaxBatch];
        var counts = new int[MaxBatch];
        var frames = new float[MaxBatch * SileroVadModel.FrameSamples];
        var probabilities = new float[MaxBatch];
        // Ends once disposal has begun and nothing is pending: every frame submitted gets its answer.
        var unfinished = new List<VadFrameRequest>(MaxBatch);
        while (TakeBatch(requests, states, counts) is var (count, total) and (> 0, _))
        {
            Exception? error = null;
            try
            {
                var at = 0;
                for (var i = 0; i < count; i++)
                {
                    requests[i].Next(counts[i]).CopyTo(frames.AsSpan(at * SileroVadModel.FrameSamples));
                    at += counts[i];
                }
                batch.Run(
                    Model,
                    states.AsSpan(0, count),
                    counts.AsSpan(0, count),
                    frames.AsSpan(0, total * SileroVadModel.FrameSamples),
                    probabilities
                );
                Interlocked.Add(ref _frames, total);
                Interlocked.Increment(ref _runs);
                _onBatch?.Invoke(total);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A failed run fails the frames it carried (their streams end with the reason); others go on.
                error = e;
            }
            var first = 0;
            for (var i = 0; i < count; i++)
            {
                if (error is not null)
                {
                    requests[i].Fail(error);
                }
                else if (requests[i].Advance(probabilities.AsSpan(first, counts[i])))
                {
                    requests[i].Succeed();
                }
                else
                {
                    unfinished.Add(requests[i]);
                }
                first += counts[i];
            }
            if (unfinished.Count > 0)
            {
                // Back in line by seniority, for their next frames.
                lock (_bySeniority)
                {
                    foreach (var request in unfinished)
                    {
                        _bySeniority.Enqueue(request, request.Seniority);
                        _pendingFrames += request.Remaining;
                    }
                    if (_idle > 0)
                    {
                        Monitor.PulseAll(_bySeniority);
                    }
                }
                unfinished.Clear();
            }
            // Closed streams' states must not stay reachable from here.
            Array.Clear(requests, 0, count);
            Array.Clear(states, 0, count);
        }
        done.SetResult();
    }

    // Waits for frames and takes the most senior channels' frames, up to a batch: how many channels and frames;
    // no channels once disposal has begun and none are left.
    private (int Channels, int Frames) TakeBatch(
        VadFrameRequest[] requests,
        SileroVadState[] states,
        int[] counts
    )
    {
        lock (_bySeniority)
        {
            while (_bySeniority.Count == 0)
            {
                if (_stopping)
                {
                    return (0, 0);
                }
                _idle++;
                Monitor.Wait(_bySeniority);
                _idle--;
            }
            // A power of two of the most senior frames: the session sees a handful of shapes, never one per
            // batch size (on CUDA each new shape is a new convolution search). The last channel taken may give
            // only some of its frames; it goes back in line for the rest after this run.
            var take = 1 << System.Numerics.BitOperations.Log2((uint)Math.Min(_pendingFrames, MaxBatch));
            var channels = 0;
            var taken = 0;
            while (taken < take && _bySeniority.TryDequeue(out var request, out _))
            {
                var count = Math.Min(request.Remaining, take - taken);
                _pendingFrames -= request.Remaining;
                requests[channels] = request;
                states[channels] = request.State;
                counts[channels++] = count;
                taken += count;
            }
            return (channels, taken);
        }
    }

    /// <summary>Stops taking frames; frames already queued are still scored. The model is not disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_bySeniority)
        {
            _stopping = true;
            Monitor.PulseAll(_bySeniority);
        }
        await Task.WhenAll(_workers);
    }
}
