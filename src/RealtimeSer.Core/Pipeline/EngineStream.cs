using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using RealtimeSer.Core.Ingest;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// One audio stream (a call, a microphone, a file) inside the engine. One writer feeds it audio in order;
/// events come out of <see cref="Events"/>, which completes after <see cref="CompleteAsync"/> once every
/// window has been classified, or with the stream's failure.
/// </summary>
public sealed class EngineStream : IAsyncDisposable
{
    /// <summary>What a shed chunk's time passes through the resampler as (never written).</summary>
    private static readonly float[] ShedSilence = new float[8192];

    private readonly StreamServices _services;
    private readonly StreamNormalizer _normalizer;
    private readonly ChannelWindower[] _windowers;
    private readonly ChannelState[] _states;
    private readonly Channel<EngineEvent> _events = Channel.CreateUnbounded<EngineEvent>(
        new UnboundedChannelOptions { SingleReader = true }
    );

    // Per channel: the channels' VADs run side by side (their frames share batches), each filling its own lists.
    private readonly List<WindowJob>[] _jobs;
    private readonly List<SpeechEvent>[] _speech;
    private readonly ValueTask[] _appends;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _pending;
    private int _completing;
    private int _allSubmitted;
    private int _closed;
    private long _windows;
    private long _dropped;
    private long _segmentsLost;
    private readonly IngestBacklog? _backlog;
    private long _framesReceived;
    private readonly Task? _ingest;
    private readonly CancellationTokenSource? _ingestStop;

    internal EngineStream(
        StreamServices services,
        string id,
        StreamFormat format,
        StreamOptions options,
        int windowSamples,
        int hopSamples
    )
    {
        _services = services;
        Id = id;
        Format = format;
        _normalizer = new StreamNormalizer(format.SampleRate, format.Channels, format.Mode);
        IsRecorded = options.Recorded ?? !services.LiveEngine;
        _windowers = new ChannelWindower[_normalizer.OutputChannels];
        _states = new ChannelState[_normalizer.OutputChannels];
        _jobs = new List<WindowJob>[_windowers.Length];
        _speech = new List<SpeechEvent>[_windowers.Length];
        _appends = new ValueTask[_windowers.Length];
        if (!IsRecorded && services.MaxBacklogSeconds > 0)
        {
            _backlog = new IngestBacklog(
                services.MaxBacklogSeconds,
                services.MaxQueuedSeconds,
                onShed: services.Metrics.AudioShed.Add
            );
        }
        Late = new LateWork(services.MaxWindowAgeTicks, _backlog);
        for (var c = 0; c < _windowers.Length; c++)
        {
            _jobs[c] = [];
            _speech[c] = [];
            var name = format.ChannelNames is { } names && c < names.Count ? names[c] : null;
            _states[c] = new ChannelState(this, c, name, options, services.Outputs(), Late, services.Profile);
            _windowers[c] = new ChannelWindower(
                services.VadModel,
                services.VadBatcher,
                options.Vad,
                windowSamples,
                hopSamples,
                services.MinWindowSamples
            );
        }
        if (_backlog is not null)
        {
            _ingestStop = new CancellationTokenSource();
            var stop = _ingestStop.Token;
            _ingest = SeniorityScheduler.Run(services.Scheduler().NewLane(), () => IngestAsync(stop));
        }
    }

    /// <summary>This stream's rule for results that would come too late.</summary>
    internal LateWork Late { get; }

    public string Id { get; }

    public StreamFormat Format { get; }

    /// <summary>Analysis channels (source channels when split, else 1).</summary>
    public int Channels => _windowers.Length;

    public ChannelReader<EngineEvent> Events => _events.Reader;

    /// <summary>16 kHz samples received per channel.</summary>
    public long SamplesReceived =>
        _backlog is null
            ? _windowers[0].SamplesWritten
            : Interlocked.Read(ref _framesReceived) * StreamNormalizer.TargetRate / Format.SampleRate;

    public double SecondsReceived => SamplesReceived / (double)StreamNormalizer.TargetRate;

    public long WindowsClassified => Interlocked.Read(ref _windows);

    public long WindowsDropped => Interlocked.Read(ref _dropped);

    /// <summary>Seconds of live audio skipped (no VAD, no windows) because the stream fell behind.</summary>
    public double AudioSecondsShed => _backlog?.ShedSeconds ?? 0;

    /// <summary>
    /// A live stream whose source sends faster than real time (a file streamed fast): its latency measures
    /// the engine's throughput, not live latency, and it is never shed.
    /// </summary>
    public bool IsAheadOfRealTime => _backlog?.Ahead ?? false;

    /// <summary>
    /// Opened in wait mode (<see cref="OverloadPolicy.Wait"/>): a recording, never shed, whose windows wait for
    /// the model instead of being dropped. Its latency, too, measures throughput, not live latency.
    /// </summary>
    public bool IsRecorded { get; }

    /// <summary>
    /// Segments that got no final: every window was dropped, or (a live stream starved of CPU) the segment's end
    /// was found in audio older than the late-window bound, so its final could only have come late.
    /// </summary>
    public long SegmentsLost => Interlocked.Read(ref _segmentsLost);

    /// <summary>Whether channel <paramref name="channel"/> is inside speech now, and its last VAD probability.</summary>
    public (bool InSpeech, float Probability) VadState(int channel) =>
        (_windowers[channel].InSpeech, _windowers[channel].LastProbability);

    /// <summary>True once the writer has said the audio ended (<see cref="CompleteAsync"/>): no more windows follow.</summary>
    internal bool AudioEnded => Volatile.Read(ref _completing) != 0;

    /// <summary>
    /// Adds interleaved source samples (float in [-1, 1], the stream's rate and channel count).
    /// <paramref name="arrivedAt"/> (a <see cref="Stopwatch"/> timestamp, e.g. from capture) is when the last of
    /// them arrived; it defaults to now. In live mode this only queues the audio (the stream's own task runs
    /// the VAD, shedding the oldest audio when it falls behind) and waits only for a source ahead of real time;
    /// in replay it runs the VAD here and waits for queue room.
    /// </summary>
    public async ValueTask WriteAsync(
        ReadOnlyMemory<float> interleaved,
        long? arrivedAt = null,
        CancellationToken cancellationToken = default
    )
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0, this);
        if (Volatile.Read(ref _completing) != 0)
        {
            throw new InvalidOperationException($"stream {Id} was completed; no more audio can be written.");
        }
        var now = arrivedAt ?? Stopwatch.GetTimestamp();
        if (_backlog is not null)
        {
            if (_drained.Task.IsFaulted)
            {
                await _drained.Task; // the stream's own task failed: say why to the writer
            }
            var frames = interleaved.Length / Format.Channels;
            Interlocked.Add(ref _framesReceived, frames);
            var seconds = frames / (double)Format.SampleRate;
            await _backlog.AddAsync(interleaved, seconds, now, cancellationToken);
            return;
        }
        await ProcessAsync(interleaved, now, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessAsync(
        ReadOnlyMemory<float> interleaved,
        long arrivedAt,
        CancellationToken cancellationToken
    )
    {
        var started = Stopwatch.GetTimestamp();
        _normalizer.Process(interleaved.Span);
        _services.Profile.AddResample(started);
        for (var c = 0; c < _windowers.Length; c++)
        {
            _appends[c] = _windowers[c]
                .AppendAsync(_normalizer.OutputMemory(c), arrivedAt, _states[c], _jobs[c], _speech[c]);
        }
        await AwaitChannelsAsync();
        _services.Metrics.AudioSeconds.Add(
            _normalizer.Output(0).Length / (double)StreamNormalizer.TargetRate * Channels
        );
        await SubmitAsync(cancellationToken);
    }

    // Shed audio skips VAD and windows, but its time still passes through the resampler, as silence (the chunk
    // gave its samples back when it was shed), so that stream time stays exact.
    private ValueTask SkipShedAsync(
        int interleavedLength,
        long arrivedAt,
        CancellationToken cancellationToken
    )
    {
        var started = Stopwatch.GetTimestamp();
        // Whole frames at a time (a stream of more channels than the shared block holds gets its own).
        var silence = Format.Channels <= ShedSilence.Length ? ShedSilence : new float[Format.Channels];
        var step = silence.Length / Format.Channels * Format.Channels;
        var produced = 0;
        for (var left = interleavedLength; left > 0; left -= step)
        {
            _normalizer.Process(silence.AsSpan(0, Math.Min(left, step)));
            for (var c = 0; c < _windowers.Length; c++)
            {
                _windowers[c].Skip(_normalizer.Output(c).Length, arrivedAt, _states[c], _jobs[c], _speech[c]);
            }
            produced += _normalizer.Output(0).Length;
        }
        _services.Profile.AddResample(started);
        _services.Metrics.AudioSeconds.Add(produced / (double)StreamNormalizer.TargetRate * Channels);
        return SubmitAsync(cancellationToken);
    }

    // Every channel's task is awaited (a pooled task must be), even after one has failed.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitChannelsAsync()
    {
        ExceptionDispatchInfo? error = null;
        for (var c = 0; c < _appends.Length; c++)
        {
            try
            {
                await _appends[c];
            }
            catch (Exception e)
            {
                error ??= ExceptionDispatchInfo.Capture(e);
            }
            _appends[c] = default;
        }
        error?.Throw();
    }

    private async Task IngestAsync(CancellationToken stop)
    {
        try
        {
            while (await _backlog!.TakeAsync(stop) is { } chunk)
            {
                try
                {
                    if (_services.VadBatcher is not null)
                    {
                        // Behind by half the bound: catch up without the batcher's round trip per frame.
                        var behind = _backlog!.WaitingSeconds > _backlog.MaxBacklogSeconds / 2;
                        foreach (var windower in _windowers)
                        {
                            windower.VadInline = behind;
                        }
                    }
                    if (chunk.Shed)
                    {
                        await SkipShedAsync(chunk.Length, chunk.ArrivedAt, stop);
                    }
                    else
                    {
                        await ProcessAsync(chunk.Samples, chunk.ArrivedAt, stop);
                    }
                }
                finally
                {
                    chunk.Return();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The stream was disposed before its audio was processed.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Fail(e);
        }
        finally
        {
            _backlog!.Drain();
        }
    }

    /// <summary>Ends the audio: closes open segments, then waits until their events have been published.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _completing, 1) != 0)
        {
            await _drained.Task.WaitAsync(cancellationToken);
            return;
        }
        if (_backlog is not null)
        {
            _backlog.Complete();
            await _ingest!.WaitAsync(cancellationToken);
            if (_drained.Task.IsFaulted)
            {
                await _drained.Task;
            }
        }
        var now = Stopwatch.GetTimestamp();
        _normalizer.Flush();
        for (var c = 0; c < _windowers.Length; c++)
        {
            _appends[c] = FlushChannelAsync(c, now);
        }
        await AwaitChannelsAsync();
        await SubmitAsync(cancellationToken);
        _services.AudioEnded();
        // Only now may "no window pending" mean drained: earlier, the last windows were not yet counted, and
        // a result arriving in between would have closed the events before the final segment's event.
        Volatile.Write(ref _allSubmitted, 1);
        if (Interlocked.Read(ref _pending) == 0)
        {
            _drained.TrySetResult();
        }
        await _drained.Task.WaitAsync(cancellationToken);
        _events.Writer.TryComplete();
    }

    /// <summary>Ends the stream with an error: readers of <see cref="Events"/> see it; other streams go on.</summary>
    public void Fail(Exception error)
    {
        _events.Writer.TryWrite(new StreamFailedEvent(Id, error));
        _events.Writer.TryComplete(error);
        _drained.TrySetException(error);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _events.Writer.TryComplete();
            _drained.TrySetCanceled();
            _services.Metrics.StreamClosed();
            _ingestStop?.Cancel();
            _backlog?.Complete();
        }
        return ValueTask.CompletedTask;
    }

    private async ValueTask FlushChannelAsync(int c, long now)
    {
        await _windowers[c].AppendAsync(_normalizer.OutputMemory(c), now, _states[c], _jobs[c], _speech[c]);
        await _windowers[c].FlushAsync(now, _states[c], _jobs[c], _speech[c]);
    }

    internal bool IsClosed => Volatile.Read(ref _closed) != 0;

    internal void Publish(EngineEvent e)
    {
        if (!IsClosed)
        {
            _events.Writer.TryWrite(e);
        }
    }

    internal void WindowDone(bool dropped)
    {
        if (dropped)
        {
            Interlocked.Increment(ref _dropped);
        }
        else
        {
            Interlocked.Increment(ref _windows);
        }
        if (Interlocked.Decrement(ref _pending) == 0 && Volatile.Read(ref _allSubmitted) != 0)
        {
            _drained.TrySetResult();
        }
    }

    internal void SegmentLost()
    {
        Interlocked.Increment(ref _segmentsLost);
        _services.Metrics.SegmentsLost.Add(1);
    }

    private async ValueTask SubmitAsync(CancellationToken cancellationToken)
    {
        // Segment ends are registered before their windows are queued, so a final can never be missed.
        // Channel by channel, in the order a single writer produced them before channels ran side by side.
        foreach (var speeches in _speech)
        {
            foreach (var speech in speeches)
            {
                if (!speech.IsStart)
                {
                    _states[speech.Channel].RegisterSegmentEnd(speech);
                }
                Publish(speech);
            }
            speeches.Clear();
        }
        foreach (var jobs in _jobs)
        {
            Interlocked.Add(ref _pending, jobs.Count);
        }
        try
        {
            foreach (var jobs in _jobs)
            {
                for (var i = 0; i < jobs.Count; i++)
                {
                    await _services.Enqueue(jobs[i], IsRecorded, cancellationToken);
                }
            }
        }
        finally
        {
            foreach (var jobs in _jobs)
            {
                jobs.Clear();
            }
        }
    }
}

/// <summary>How a stream's audio arrives: source rate and channels, and whether channels are split.</summary>
public sealed record StreamFormat(int SampleRate, int Channels, ChannelMode Mode = ChannelMode.Split)
{
    /// <summary>Names of the analysis channels (agent, customer), used in events.</summary>
    public IReadOnlyList<string>? ChannelNames { get; init; }
}
