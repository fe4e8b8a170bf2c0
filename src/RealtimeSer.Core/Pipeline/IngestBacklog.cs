using System.Buffers;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// A live stream's audio between the transport and the VAD. The transport hands chunks over without waiting,
/// so when the CPU cannot keep up the backlog builds here, where it can be measured and shed, instead of in
/// socket buffers where it only adds latency. Rules:
/// <list type="bullet">
/// <item>When the audio waiting here exceeds <c>maxBacklogSeconds</c> and the source is not ahead of real
/// time, the oldest waiting chunks are marked shed (the newest is always kept): their time passes with no VAD
/// and no windows, and they are counted. A chunk that reaches the reader more than <c>maxBacklogSeconds</c>
/// after it arrived is shed too (the reader itself was starved of CPU).</item>
/// <item>A source ahead of real time (a file streamed fast; more than half the bound ahead of the wall clock
/// since the stream opened) is never shed: it waits for room once <c>maxQueuedSeconds</c> are waiting, as flow
/// control would make it. The clock starts when the stream opens, not at its first chunk: a real-time sender
/// that stalls (a starved thread, a network hiccup) and then sends its late audio in a burst is behind, not
/// ahead, and is shed like any other late audio. (Anchored at the first chunk, such a burst looked ahead for
/// good, so under CPU overload most live streams were never shed and their latency grew to tens of
/// seconds.)</item>
/// <item>A source slower than real time (a slow network, a drifting sound card) builds no backlog here, so
/// it is never shed either.</item>
/// </list>
/// Every shedding, by either rule, is also reported to <c>onShed</c> (seconds), so metrics see all of it.
/// </summary>
internal sealed class IngestBacklog(
    double maxBacklogSeconds,
    double maxQueuedSeconds,
    TimeProvider? time = null,
    Action<double>? onShed = null
)
{
    private const double Epsilon = 1e-9; // chunk durations are sums of floating-point seconds

    private readonly object _gate = new();
    private readonly Queue<IngestChunk> _queue = new();
    private readonly SemaphoreSlim _items = new(0);
    private readonly SemaphoreSlim _room = new(0);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long _openedAt = (time ?? TimeProvider.System).GetTimestamp();
    private long _lastShedAt = long.MinValue;
    private double _received;
    private double _waiting;
    private double _shed;
    private bool _completed;
    private int _writersWaiting;

    /// <summary>Seconds of audio shed so far.</summary>
    public double ShedSeconds
    {
        get
        {
            lock (_gate)
            {
                return _shed;
            }
        }
    }

    /// <summary>Whether audio was shed within the last <paramref name="seconds"/>: the stream is overloaded now.</summary>
    public bool ShedWithin(double seconds)
    {
        lock (_gate)
        {
            return _lastShedAt != long.MinValue && _time.GetElapsedTime(_lastShedAt).TotalSeconds < seconds;
        }
    }

    /// <summary>Whether the source was ahead of real time at its last chunk (a file sent fast).</summary>
    public bool Ahead { get; private set; }

    /// <summary>Audio waiting beyond this many seconds is shed.</summary>
    public double MaxBacklogSeconds => maxBacklogSeconds;

    /// <summary>Seconds of audio waiting to be processed (not counting shed chunks).</summary>
    public double WaitingSeconds
    {
        get
        {
            lock (_gate)
            {
                return _waiting;
            }
        }
    }

    /// <summary>Queues a copy of <paramref name="samples"/>; returns the seconds shed by this call.</summary>
    public async ValueTask<double> AddAsync(
        ReadOnlyMemory<float> samples,
        double seconds,
        long arrivedAt,
        CancellationToken cancellationToken
    )
    {
        var buffer = ArrayPool<float>.Shared.Rent(Math.Max(1, samples.Length));
        samples.Span.CopyTo(buffer);
        var chunk = new IngestChunk(buffer, samples.Length, seconds, arrivedAt);
        double shed;
        while (true)
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_completed, this);
                var wall = _time.GetElapsedTime(_openedAt).TotalSeconds;
                // Ahead by half the bound: a source that sends faster than it speaks. A real-time source stays
                // near zero (behind, when the transport stalls), so this never mistakes it for one.
                var ahead = _received + seconds - wall > maxBacklogSeconds / 2;
                Ahead = ahead;
                if (!ahead || _waiting + seconds <= maxQueuedSeconds + Epsilon || _queue.Count == 0)
                {
                    _queue.Enqueue(chunk);
                    _received += seconds;
                    _waiting += seconds;
                    shed = ahead ? 0 : ShedOldest();
                    break;
                }
                _writersWaiting++;
            }
            await _room.WaitAsync(cancellationToken);
        }
        _items.Release();
        return shed;
    }

    // Under the lock. Oldest first, never the newest chunk.
    private double ShedOldest()
    {
        var shed = 0.0;
        var index = 0;
        foreach (var chunk in _queue)
        {
            if (_waiting <= maxBacklogSeconds + Epsilon || ++index == _queue.Count)
            {
                break;
            }
            if (!chunk.Shed)
            {
                chunk.MarkShed();
                _waiting -= chunk.Seconds;
                shed += chunk.Seconds;
            }
        }
        if (shed > 0)
        {
            RecordShed(shed);
        }
        return shed;
    }

    // Under the lock.
    private void RecordShed(double seconds)
    {
        _shed += seconds;
        _lastShedAt = _time.GetTimestamp();
        onShed?.Invoke(seconds);
    }

    /// <summary>The next chunk in order (return it with <see cref="IngestChunk.Return"/>), or null once completed and empty.</summary>
    public async ValueTask<IngestChunk?> TakeAsync(CancellationToken cancellationToken)
    {
        await _items.WaitAsync(cancellationToken);
        lock (_gate)
        {
            if (!_queue.TryDequeue(out var chunk))
            {
                return null;
            }
            if (!chunk.Shed)
            {
                _waiting -= chunk.Seconds;
                // Waited too long for the reader (the machine is short of CPU for every task, not only this
                // stream's VAD): analysing it now could only give a late result.
                var age = _time.GetElapsedTime(chunk.ArrivedAt).TotalSeconds;
                if (!Ahead && age > maxBacklogSeconds)
                {
                    chunk.MarkShed();
                    RecordShed(chunk.Seconds);
                }
            }
            if (_writersWaiting > 0)
            {
                _writersWaiting--;
                _room.Release();
            }
            return chunk;
        }
    }

    /// <summary>No more audio: the reader gets what is queued, then null.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }
            _completed = true;
        }
        _items.Release();
    }

    /// <summary>Returns the buffers of chunks nobody will read (the stream was abandoned).</summary>
    public void Drain()
    {
        lock (_gate)
        {
            while (_queue.TryDequeue(out var chunk))
            {
                chunk.Return();
            }
        }
    }
}

internal sealed class IngestChunk(float[] buffer, int length, double seconds, long arrivedAt)
{
    private float[]? _buffer = buffer;

    /// <summary>The chunk's audio; a shed chunk has none left (see <see cref="MarkShed"/>).</summary>
    public ReadOnlyMemory<float> Samples =>
        _buffer?.AsMemory(0, Length)
        ?? throw new InvalidOperationException(
            "This chunk was shed: its audio was given back when it was shed."
        );

    /// <summary>Interleaved samples the chunk held: its time, which passes whether or not it is analysed.</summary>
    public int Length { get; } = length;

    public double Seconds { get; } = seconds;

    public long ArrivedAt { get; } = arrivedAt;

    /// <summary>Set when the chunk was shed: its time passes, its audio is not analysed.</summary>
    public bool Shed { get; private set; }

    /// <summary>
    /// Sheds the chunk and gives its audio back at once. A stream starved of CPU keeps queueing chunks it will
    /// only shed; held until the reader reached them, their audio would grow the process for as long as the
    /// overload lasts.
    /// </summary>
    public void MarkShed()
    {
        Shed = true;
        Return();
    }

    public void Return()
    {
        if (_buffer is { } returned)
        {
            _buffer = null;
            ArrayPool<float>.Shared.Return(returned);
        }
    }
}
