using System.Diagnostics;
using System.Threading.Channels;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Vad;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Many streams in, emotion events out. Windows of all streams share one bounded queue; one scheduler
/// batches them dynamically (up to <see cref="EngineOptions.MaxBatch"/> windows or
/// <see cref="EngineOptions.MaxBatchDelay"/>, equal lengths together) into single model runs and routes
/// results back to their streams.
/// </summary>
public sealed class EmotionEngine : IAsyncDisposable
{
    private readonly EngineOptions _options;
    private readonly Channel<WindowJob> _queue;
    private readonly SemaphoreSlim _runSlots;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _scheduler;
    private readonly int _labels;
    private int _disposed;

    public EmotionEngine(
        IEmotionClassifier classifier,
        SileroVadModel vadModel,
        EngineOptions? options = null,
        EngineMetrics? metrics = null
    )
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(vadModel);
        _options = options ?? new EngineOptions();
        _options.Validate();
        Classifier = classifier;
        VadModel = vadModel;
        Metrics = metrics ?? new EngineMetrics();
        _labels = classifier.Manifest.Labels.Count;
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
        _runSlots = new SemaphoreSlim(_options.ConcurrentRuns, _options.ConcurrentRuns);
        _scheduler = Task.Run(() => ScheduleAsync(_stop.Token));
    }

    public IEmotionClassifier Classifier { get; }

    public SileroVadModel VadModel { get; }

    public EngineMetrics Metrics { get; }

    public EngineOptions Options => _options;

    /// <summary>Open streams.</summary>
    public long ActiveStreams => Metrics.ActiveStreams;

    internal int MinWindowSamples => (int)(Classifier.Manifest.MinWindowSeconds * 16000);

    internal int WindowSamples(EngineOptions o) =>
        (int)((o.WindowSeconds ?? Classifier.Manifest.RecommendedWindowSeconds) * 16000);

    internal int HopSamples(EngineOptions o) =>
        (int)((o.HopSeconds ?? Classifier.Manifest.RecommendedHopSeconds) * 16000);

    /// <summary>Opens a stream; <paramref name="overrides"/> may change windowing, smoothing and VAD for it alone.</summary>
    public EngineStream OpenStream(string id, StreamFormat format, EngineOptions? overrides = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(format);
        var options = overrides ?? _options;
        options.Validate();
        var stream = new EngineStream(this, id, format, options);
        Metrics.StreamOpened();
        return stream;
    }

    internal void StreamClosed(EngineStream stream) => Metrics.StreamClosed();

    internal ValueTask EnqueueAsync(WindowJob job, CancellationToken cancellationToken)
    {
        job.EnqueuedAt = Stopwatch.GetTimestamp();
        // Drop-oldest never waits; wait mode does when the queue is full.
        return _queue.Writer.TryWrite(job)
            ? ValueTask.CompletedTask
            : _queue.Writer.WriteAsync(job, cancellationToken);
    }

    private void OnDropped(WindowJob job)
    {
        Metrics.Dropped.Add(1);
        job.ReturnSamples();
        job.Owner.Deliver(job, default, default, dropped: true);
    }

    private async Task ScheduleAsync(CancellationToken stop)
    {
        var reader = _queue.Reader;
        var batch = new List<WindowJob>(_options.MaxBatch);
        var running = new List<Task>();
        using var delay = new CancellationTokenSource();
        try
        {
            while (await reader.WaitToReadAsync(stop))
            {
                Fill(reader, batch);
                if (batch.Count < _options.MaxBatch && _options.MaxBatchDelay > TimeSpan.Zero)
                {
                    await FillWithinDelayAsync(reader, batch, stop);
                }
                foreach (var group in batch.GroupBy(j => j.Length))
                {
                    var jobs = group.ToArray();
                    await _runSlots.WaitAsync(stop);
                    running.RemoveAll(t => t.IsCompleted);
                    running.Add(Task.Run(() => RunBatch(jobs), CancellationToken.None));
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        await Task.WhenAll(running);
    }

    private void Fill(ChannelReader<WindowJob> reader, List<WindowJob> batch)
    {
        while (batch.Count < _options.MaxBatch && reader.TryRead(out var job))
        {
            batch.Add(job);
        }
    }

    private async Task FillWithinDelayAsync(
        ChannelReader<WindowJob> reader,
        List<WindowJob> batch,
        CancellationToken stop
    )
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(stop);
        window.CancelAfter(_options.MaxBatchDelay);
        try
        {
            while (batch.Count < _options.MaxBatch && await reader.WaitToReadAsync(window.Token))
            {
                Fill(reader, batch);
            }
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            // The batching window closed: run what we have.
        }
    }

    private void RunBatch(WindowJob[] jobs)
    {
        var length = jobs[0].Length;
        var input = EnginePool.Floats.Rent(jobs.Length * length);
        var scores = EnginePool.Floats.Rent(jobs.Length * _labels);
        try
        {
            for (var i = 0; i < jobs.Length; i++)
            {
                jobs[i].Samples.AsSpan(0, length).CopyTo(input.AsSpan(i * length));
                jobs[i].ReturnSamples();
            }
            var started = Stopwatch.GetTimestamp();
            try
            {
                Classifier
                    .ClassifyAsync(
                        input.AsMemory(0, jobs.Length * length),
                        jobs.Length,
                        scores.AsMemory(0, jobs.Length * _labels)
                    )
                    .AsTask()
                    .GetAwaiter()
                    .GetResult();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A failed run ends the streams it carried, with the reason; the engine keeps serving others.
                foreach (var job in jobs)
                {
                    job.Owner.FailStream(e);
                    job.Owner.Deliver(job, default, default, dropped: true);
                }
                return;
            }
            var inferenceMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Metrics.InferenceTime.Record(inferenceMs);
            Metrics.BatchSize.Record(jobs.Length);
            Metrics.Windows.Add(jobs.Length);
            for (var i = 0; i < jobs.Length; i++)
            {
                var queueMs = Stopwatch.GetElapsedTime(jobs[i].EnqueuedAt, started).TotalMilliseconds;
                Metrics.QueueTime.Record(queueMs);
                Metrics.EndToEnd.Record(Stopwatch.GetElapsedTime(jobs[i].ArrivedAt).TotalMilliseconds);
                jobs[i]
                    .Owner.Deliver(
                        jobs[i],
                        scores.AsSpan(i * _labels, _labels),
                        new EventLatency(queueMs, inferenceMs, jobs.Length, 0),
                        dropped: false
                    );
            }
        }
        finally
        {
            EnginePool.Floats.Return(input);
            EnginePool.Floats.Return(scores);
            _runSlots.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        await _scheduler;
        while (_queue.Reader.TryRead(out var job))
        {
            job.ReturnSamples();
        }
        _stop.Dispose();
        _runSlots.Dispose();
    }
}
