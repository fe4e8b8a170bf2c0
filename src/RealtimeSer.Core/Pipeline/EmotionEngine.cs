using System.Diagnostics;
using System.Threading.Channels;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Many streams in, emotion events out. Windows of all streams share one bounded queue; one scheduler
/// batches them dynamically (up to <see cref="EngineOptions.MaxBatch"/> windows or
/// <see cref="EngineOptions.MaxBatchDelay"/>, equal lengths together) into single model runs and routes
/// results back to their streams. With several models (emotion and arousal, say), each batch runs once per
/// model on the same windows, and every result carries each model's scores; windowing, scheduling and
/// smoothing do not depend on the models.
/// In a live engine (<see cref="OverloadPolicy.DropOldest"/>), streams opened with
/// <see cref="OverloadPolicy.Wait"/> (recordings: a recorded call streamed fast, a file posted whole) queue their
/// windows apart, in a queue that makes them wait for room instead of dropping: a recording must be complete,
/// and its sender can always wait. The scheduler takes from both, so neither starves the other.
/// </summary>
public sealed class EmotionEngine : IAsyncDisposable
{
    private readonly EngineOptions _options;
    private readonly Channel<WindowJob> _queue;

    // Live engines only: the windows of streams opened in wait mode (recordings), never dropped.
    private readonly Channel<WindowJob>? _recorded;
    private readonly SemaphoreSlim _runSlots;

    // The batching window the scheduler is waiting in, if any (FillWithinDelayAsync).
    private CancellationTokenSource? _batchWait;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _scheduler;
    private readonly IEmotionClassifier[] _classifiers;
    private readonly int[] _offsets;
    private readonly int[] _widths;

    // Values per window over all models: labels, or a feature vector for a model that adapts per channel.
    private readonly int _width;
    private readonly long _maxWindowAge;
    private readonly StreamServices _streamServices;
    private int _disposed;

    public EmotionEngine(
        IEmotionClassifier classifier,
        SileroVadModel vadModel,
        EngineOptions? options = null,
        EngineMetrics? metrics = null
    )
        : this([classifier], vadModel, options, metrics) { }

    /// <summary>
    /// An engine that runs every one of <paramref name="classifiers"/> on each window; the first sets the
    /// window lengths (within every model's minimum) and is the one whose label the events lead with.
    /// The engine does not own the classifiers.
    /// </summary>
    public EmotionEngine(
        IReadOnlyList<IEmotionClassifier> classifiers,
        SileroVadModel vadModel,
        EngineOptions? options = null,
        EngineMetrics? metrics = null
    )
    {
        ArgumentNullException.ThrowIfNull(classifiers);
        ArgumentNullException.ThrowIfNull(vadModel);
        if (classifiers.Count == 0 || classifiers.Any(c => c is null))
        {
            throw new ArgumentException(
                "at least one model is needed, and none may be null.",
                nameof(classifiers)
            );
        }
        var duplicate = classifiers.GroupBy(c => c.Manifest.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException(
                $"model '{duplicate.Key}' is listed twice; list each model once.",
                nameof(classifiers)
            );
        }
        _options = options ?? new EngineOptions();
        _options.Validate();
        _classifiers = [.. classifiers];
        Classifier = _classifiers[0];
        VadModel = vadModel;
        Metrics = metrics ?? new EngineMetrics();
        _offsets = new int[_classifiers.Length];
        _widths = new int[_classifiers.Length];
        for (var k = 0; k < _classifiers.Length; k++)
        {
            _offsets[k] = _width;
            _widths[k] = Adaptive(k) is { } adaptive
                ? adaptive.FeatureCount
                : _classifiers[k].Manifest.Labels.Count;
            _width += _widths[k];
        }
        ModelIds = [.. _classifiers.Select(c => c.Manifest.Id)];
        var queueOptions = new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode =
                _options.Overload == OverloadPolicy.Wait
                    ? BoundedChannelFullMode.Wait
                    : BoundedChannelFullMode.DropOldest,
        };
        _queue = Channel.CreateBounded<WindowJob>(queueOptions, OnDropped);
        _recorded =
            _options.Overload == OverloadPolicy.DropOldest
                ? Channel.CreateBounded<WindowJob>(
                    new BoundedChannelOptions(_options.QueueCapacity)
                    {
                        SingleReader = false, // the scheduler's waits on it are withdrawn and renewed
                        SingleWriter = false,
                        FullMode = BoundedChannelFullMode.Wait,
                    }
                )
                : null;
        // Live engines also drop windows whose audio arrived more than the backlog bound ago by the time the
        // model could take them: when the CPU is short for every stage, a late window would only give a late
        // event and take the model from fresher ones. The bound is the same as the audio's (both are the latency
        // objective): a window's age counts from its audio's arrival, so it includes the wait before the VAD.
        // Live sources at real time lose late windows whether or not their VAD keeps up: with the real model the
        // model stage can be the one that falls behind. A file streamed fast (ahead of real time) keeps every
        // window.
        _maxWindowAge =
            _options.Overload == OverloadPolicy.DropOldest && _options.MaxBacklogSeconds > 0
                ? (long)(_options.MaxBacklogSeconds * Stopwatch.Frequency)
                : 0;
        _runSlots = new SemaphoreSlim(_options.ConcurrentRuns, _options.ConcurrentRuns);
        // One batcher per engine over the (possibly shared) model: engines of one server batch apart, each
        // across all of its own streams.
        VadBatcher =
            _options.VadMaxBatch > 0
                ? new VadBatcher(
                    vadModel,
                    _options.VadMaxBatch,
                    onBatch: size => Metrics.VadBatchSize.Record(size)
                )
                : null;
        Sessions =
        [
            vadModel.Session,
            .. _classifiers.OfType<OnnxEmotionClassifier>().SelectMany(c => c.Sessions),
        ];
        Metrics.WatchShapes(Sessions);
        _streamServices = new StreamServices(
            vadModel,
            VadBatcher,
            Metrics,
            Profile,
            _maxWindowAge,
            _options.Overload == OverloadPolicy.DropOldest,
            _options.MaxBacklogSeconds,
            _options.MaxQueuedSeconds,
            MinWindowSamples,
            () => StreamScheduler,
            Outputs,
            EnqueueAsync,
            EndBatchWait
        );
        _scheduler = Task.Run(() => ScheduleAsync(_stop.Token));
    }

    /// <summary>Every ONNX session this engine runs: the VAD's and each model's.</summary>
    public IReadOnlyList<RealtimeSer.Onnx.OnnxSession> Sessions { get; }

    /// <summary>The first model: its label leads every event, its manifest sets the default windows.</summary>
    public IEmotionClassifier Classifier { get; }

    /// <summary>Every model this engine runs on each window, in event order.</summary>
    public IReadOnlyList<IEmotionClassifier> Classifiers => _classifiers;

    public IReadOnlyList<string> ModelIds { get; }

    private IChannelAdaptiveClassifier? Adaptive(int k) =>
        _classifiers[k] is IChannelAdaptiveClassifier { AdaptsPerChannel: true } adaptive ? adaptive : null;

    /// <summary>What each channel needs to read model <c>k</c>'s part of a window's outputs.</summary>
    internal ModelOutput[] Outputs() =>
        [
            .. _classifiers.Select(
                (c, k) =>
                    new ModelOutput(c.Manifest, _offsets[k], _widths[k], Adaptive(k)?.CreateChannelAdapter())
            ),
        ];

    /// <summary>The model ids joined with '+', as logs and metrics name this engine.</summary>
    public string Name => string.Join('+', ModelIds);

    public SileroVadModel VadModel { get; }

    /// <summary>
    /// Where live streams' own work runs, oldest stream first (made with the first live stream: replay-only
    /// engines start no threads).
    /// </summary>
    internal SeniorityScheduler StreamScheduler => _streamScheduler.Value;

    private readonly Lazy<SeniorityScheduler> _streamScheduler = new(
        () => new SeniorityScheduler(),
        LazyThreadSafetyMode.ExecutionAndPublication
    );

    /// <summary>Scores every stream's VAD frames in shared runs; null when <see cref="EngineOptions.VadMaxBatch"/> is 0.</summary>
    public VadBatcher? VadBatcher { get; }

    public EngineMetrics Metrics { get; }

    /// <summary>Busy time per stage (the ONNX runs are in each session's <c>BusyTime</c>).</summary>
    public EngineProfile Profile { get; } = new();

    public EngineOptions Options => _options;

    /// <summary>Open streams.</summary>
    public long ActiveStreams => Metrics.ActiveStreams;

    /// <summary>The shortest window every model accepts.</summary>
    public double MinWindowSeconds => _classifiers.Max(c => c.Manifest.MinWindowSeconds);

    internal int MinWindowSamples => (int)(MinWindowSeconds * 16000);

    internal int WindowSamples(StreamOptions o) =>
        (int)((o.WindowSeconds ?? Classifier.Manifest.RecommendedWindowSeconds) * 16000);

    internal int HopSamples(StreamOptions o) =>
        (int)((o.HopSeconds ?? Classifier.Manifest.RecommendedHopSeconds) * 16000);

    /// <summary>Opens a stream; <paramref name="options"/> (null: the engine's defaults) are its own.</summary>
    public EngineStream OpenStream(string id, StreamFormat format, StreamOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(format);
        options ??= _options.Streams;
        options.Validate();
        var stream = new EngineStream(
            _streamServices,
            id,
            format,
            options,
            WindowSamples(options),
            HopSamples(options)
        );
        Metrics.StreamOpened();
        return stream;
    }

    /// <summary>
    /// Queues a window. A stream in wait mode (<paramref name="recorded"/>) waits for room and is never
    /// dropped; in a live engine a live stream's window never waits (the oldest live window is dropped).
    /// </summary>
    internal ValueTask EnqueueAsync(WindowJob job, bool recorded, CancellationToken cancellationToken)
    {
        job.EnqueuedAt = Stopwatch.GetTimestamp();
        var writer = recorded && _recorded is not null ? _recorded.Writer : _queue.Writer;
        return writer.TryWrite(job) ? ValueTask.CompletedTask : writer.WriteAsync(job, cancellationToken);
    }

    private void OnDropped(WindowJob job)
    {
        Metrics.Dropped.Add(1);
        job.ReturnSamples();
        job.Owner.Deliver(job, default, default, default, dropped: true);
    }

    private async Task ScheduleAsync(CancellationToken stop)
    {
        var batch = new List<WindowJob>(_options.MaxBatch);
        var running = new List<Task>();
        try
        {
            while (await WaitForWindowsAsync(stop))
            {
                Fill(batch);
                if (
                    batch.Count < _options.MaxBatch
                    && _options.MaxBatchDelay > TimeSpan.Zero
                    && !HoldsEndedStream(batch)
                )
                {
                    await FillWithinDelayAsync(batch, stop);
                }
                if (_maxWindowAge > 0)
                {
                    var now = Stopwatch.GetTimestamp();
                    batch.RemoveAll(job => DroppedAsLate(job, now));
                }
                foreach (var group in batch.GroupBy(j => j.Length))
                {
                    var jobs = group.ToArray();
                    await _runSlots.WaitAsync(stop);
                    running.RemoveAll(t => t.IsCompleted);
                    running.Add(Task.Run(() => RunBatchAsync(jobs), CancellationToken.None));
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        await Task.WhenAll(running);
    }

    // A quarter of every batch (at least one window) goes to recordings while they wait, so that live overload
    // slows them rather than stalls them; live windows (they have a deadline) fill the batch, and recordings
    // whatever room is left.
    private void Fill(List<WindowJob> batch)
    {
        var max = _options.MaxBatch;
        if (_recorded is not null)
        {
            Take(_recorded.Reader, batch, Math.Min(max, batch.Count + Math.Max(1, max / 4)));
        }
        Take(_queue.Reader, batch, max);
        if (_recorded is not null)
        {
            Take(_recorded.Reader, batch, max);
        }
    }

    private static void Take(ChannelReader<WindowJob> reader, List<WindowJob> batch, int upTo)
    {
        while (batch.Count < upTo && reader.TryRead(out var job))
        {
            batch.Add(job);
        }
    }

    // True when a window waits in either queue; false once the engine is disposed and the queues are empty.
    private async ValueTask<bool> WaitForWindowsAsync(CancellationToken cancellationToken)
    {
        if (_recorded is null)
        {
            return await _queue.Reader.WaitToReadAsync(cancellationToken);
        }
        while (true)
        {
            if (_queue.Reader.TryPeek(out _) || _recorded.Reader.TryPeek(out _))
            {
                return true;
            }
            if (_queue.Reader.Completion.IsCompleted && _recorded.Reader.Completion.IsCompleted)
            {
                return false;
            }
            // Both waits are withdrawn once either ends, so idle queues do not collect waiters.
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var live = _queue.Reader.WaitToReadAsync(either.Token).AsTask();
            var recorded = _recorded.Reader.WaitToReadAsync(either.Token).AsTask();
            await Task.WhenAny(live, recorded);
            await either.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private async Task FillWithinDelayAsync(List<WindowJob> batch, CancellationToken stop)
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(stop);
        window.CancelAfter(_options.MaxBatchDelay);
        // Published before the batch is checked for ended streams: a stream that ends after that check finds the
        // window here and closes it (EndBatchWait).
        Interlocked.Exchange(ref _batchWait, window);
        try
        {
            while (
                batch.Count < _options.MaxBatch
                && !HoldsEndedStream(batch)
                && await WaitForWindowsAsync(window.Token)
            )
            {
                Fill(batch);
            }
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            // The batching window closed: run what we have.
        }
        finally
        {
            Interlocked.Exchange(ref _batchWait, null);
        }
    }

    // A stream's audio ended and its last windows are queued: the batch being filled may hold them, and no more
    // of that stream's windows will come to fill it.
    private void EndBatchWait()
    {
        try
        {
            Volatile.Read(ref _batchWait)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That batching window closed and its batch ran in the meantime: nothing waits any more.
        }
    }

    // A stream whose audio has ended sends no more windows to fill a batch, and its caller (a replayed file, a
    // unary call) is waiting for exactly these: waiting out the batching window would only add to its end.
    private static bool HoldsEndedStream(List<WindowJob> batch)
    {
        foreach (var job in batch)
        {
            if (job.Owner.StreamAudioEnded)
            {
                return true;
            }
        }
        return false;
    }

    // Drops a window that waited too long (see _maxWindowAge); true when it was dropped.
    private bool DroppedAsLate(WindowJob job, long now)
    {
        if (!job.Owner.Late.IsTooLate(job.ArrivedAt, now))
        {
            return false;
        }
        OnDropped(job);
        return true;
    }

    // Holds one run slot, released here whatever happens.
    private async Task RunBatchAsync(WindowJob[] jobs)
    {
        try
        {
            if (_maxWindowAge > 0)
            {
                // Again once the run has a core: under CPU overload the wait for a run slot and for a thread
                // can be longer than the wait in the queue.
                var now = Stopwatch.GetTimestamp();
                jobs = Array.FindAll(jobs, job => !DroppedAsLate(job, now));
            }
            if (jobs.Length > 0)
            {
                await RunModelsAsync(jobs);
            }
        }
        finally
        {
            _runSlots.Release();
        }
    }

    private async Task RunModelsAsync(WindowJob[] jobs)
    {
        var length = jobs[0].Length;
        var count = jobs.Length;
        var input = EnginePool.Floats.Rent(count * length);
        var scores = EnginePool.Floats.Rent(count * _width);
        var single = _classifiers.Length == 1;
        // Classifiers may normalise their input in place, so with several models each runs on its own copy.
        var work = single ? input : EnginePool.Floats.Rent(count * length);
        var modelScores = single ? scores : EnginePool.Floats.Rent(count * _width);
        var modelMs = new double[_classifiers.Length];
        try
        {
            for (var i = 0; i < count; i++)
            {
                jobs[i].Samples.AsSpan(0, length).CopyTo(input.AsSpan(i * length));
                jobs[i].ReturnSamples();
            }
            var started = Stopwatch.GetTimestamp();
            try
            {
                for (var k = 0; k < _classifiers.Length; k++)
                {
                    var labels = _widths[k];
                    if (!single)
                    {
                        input.AsSpan(0, count * length).CopyTo(work);
                    }
                    var modelStarted = Stopwatch.GetTimestamp();
                    if (Adaptive(k) is { } adaptive)
                    {
                        // Features only: each channel turns them into scores in window order (ChannelState).
                        adaptive.ComputeFeatures(
                            work.AsMemory(0, count * length),
                            count,
                            modelScores.AsMemory(0, count * labels)
                        );
                    }
                    else
                    {
                        await _classifiers[k]
                            .ClassifyAsync(
                                work.AsMemory(0, count * length),
                                count,
                                modelScores.AsMemory(0, count * labels)
                            );
                    }
                    modelMs[k] = Stopwatch.GetElapsedTime(modelStarted).TotalMilliseconds;
                    if (!single)
                    {
                        for (var i = 0; i < count; i++)
                        {
                            modelScores
                                .AsSpan(i * labels, labels)
                                .CopyTo(scores.AsSpan(i * _width + _offsets[k]));
                        }
                    }
                    Metrics.RecordModelRun(_classifiers[k].Manifest.Id, modelMs[k] / 1000);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A failed run ends the streams it carried, with the reason; the engine keeps serving others.
                foreach (var job in jobs)
                {
                    job.Owner.FailStream(e);
                    job.Owner.Deliver(job, default, default, default, dropped: true);
                }
                return;
            }
            var inferenceMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Metrics.InferenceTime.Record(inferenceMs / 1000);
            Metrics.BatchSize.Record(count);
            Metrics.Windows.Add(count);
            for (var i = 0; i < count; i++)
            {
                var queueMs = Stopwatch.GetElapsedTime(jobs[i].EnqueuedAt, started).TotalMilliseconds;
                Metrics.QueueTime.Record(queueMs / 1000);
                Metrics.EndToEnd.Record(Stopwatch.GetElapsedTime(jobs[i].ArrivedAt).TotalSeconds);
                jobs[i]
                    .Owner.Deliver(
                        jobs[i],
                        scores.AsSpan(i * _width, _width),
                        new EventLatency(queueMs, inferenceMs, count, 0),
                        modelMs,
                        dropped: false
                    );
            }
        }
        finally
        {
            EnginePool.Floats.Return(input);
            EnginePool.Floats.Return(scores);
            if (!single)
            {
                EnginePool.Floats.Return(work);
                EnginePool.Floats.Return(modelScores);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Writer.TryComplete();
        _recorded?.Writer.TryComplete();
        await _stop.CancelAsync();
        await _scheduler;
        if (VadBatcher is not null)
        {
            await VadBatcher.DisposeAsync();
        }
        if (_streamScheduler.IsValueCreated)
        {
            _streamScheduler.Value.Dispose();
        }
        while (_queue.Reader.TryRead(out var job) || (_recorded?.Reader.TryRead(out job) ?? false))
        {
            job.ReturnSamples();
        }
        _stop.Dispose();
        _runSlots.Dispose();
    }
}

/// <summary>
/// Where one model's values sit in a window's outputs, and the channel's adapter that turns them into scores
/// (null when they are the scores already).
/// </summary>
internal sealed record ModelOutput(
    Models.ModelManifest Manifest,
    int Offset,
    int Width,
    IChannelAdapter? Adapter
);
