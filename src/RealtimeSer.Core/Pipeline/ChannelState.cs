using System.Diagnostics;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// The result side of one stream's channel. Batches finish in any order, so results are put back in window
/// order here before smoothing; dropped windows leave a marked gap. Finals are emitted once every window of
/// their segment has been accounted for.
/// </summary>
internal sealed class ChannelState
{
    private readonly object _gate = new();
    private readonly EngineStream _stream;
    private readonly EmotionSmoother _smoother;
    private readonly IReadOnlyList<string> _labels;
    private readonly ModelSlot[] _models;
    private readonly bool _interim;
    private readonly SortedDictionary<long, Result> _waiting = [];
    private readonly Queue<SpeechEvent> _segmentEnds = new();
    private long _next;
    private int _segment = -1;
    private long _previousStart;
    private int _droppedInSegment;
    private EventLatency _lastLatency;
    private long _lastArrivedAt;
    private double[]? _lastModelMs;

    public ChannelState(
        EngineStream stream,
        int channel,
        string? channelName,
        EngineOptions options,
        IReadOnlyList<Models.ModelManifest> models
    )
    {
        _stream = stream;
        Channel = channel;
        ChannelName = channelName;
        _interim = options.InterimResults;
        _models = new ModelSlot[models.Count];
        var offset = 0;
        for (var k = 0; k < models.Count; k++)
        {
            var labels = models[k].Labels;
            _models[k] = new ModelSlot(
                models[k].Id,
                labels,
                offset,
                new EmotionSmoother(labels.Count, options.SmoothingSeconds, options.HysteresisMargin)
            );
            offset += labels.Count;
        }
        _labels = _models[0].Labels;
        _smoother = _models[0].Smoother;
    }

    public string StreamId => _stream.Id;

    public bool IsAheadOfRealTime => _stream.IsAheadOfRealTime;

    public bool IsShedding => _stream.IsShedding;

    public int Channel { get; }

    public string? ChannelName { get; }

    /// <summary>Called by the writer, before the segment's windows are queued.</summary>
    public void RegisterSegmentEnd(SpeechEvent end)
    {
        lock (_gate)
        {
            _segmentEnds.Enqueue(end);
            EmitReadyFinals();
        }
    }

    public void FailStream(Exception error) => _stream.Fail(error);

    /// <summary>A window's probabilities (null when it was dropped) arrive from the scheduler.</summary>
    public void Deliver(
        WindowJob job,
        ReadOnlySpan<float> probabilities,
        EventLatency latency,
        double[]? modelMs,
        bool dropped
    )
    {
        lock (_gate)
        {
            _waiting[job.Sequence] = new Result(
                job.Segment,
                job.StartSample,
                job.EndSample,
                dropped ? null : probabilities.ToArray(),
                latency,
                modelMs,
                job.ArrivedAt
            );
            while (_waiting.Remove(_next, out var result))
            {
                Process(result);
                _next++;
                EmitReadyFinals();
            }
        }
        _stream.WindowDone(dropped);
    }

    private void Process(Result result)
    {
        if (result.Segment != _segment)
        {
            _segment = result.Segment;
            foreach (var m in _models)
            {
                m.Smoother.Reset();
            }
            _droppedInSegment = 0;
            _previousStart = result.Start;
        }
        if (result.Probabilities is null)
        {
            _droppedInSegment++;
            return;
        }
        var advance = (result.Start - _previousStart) / 16000.0;
        _previousStart = result.Start;
        var seconds = (result.End - result.Start) / 16000.0;
        foreach (var m in _models)
        {
            m.Smoother.Add(result.Probabilities.AsSpan(m.Offset, m.Labels.Count), advance, seconds);
        }
        _lastLatency = result.Latency;
        _lastModelMs = result.ModelMs;
        _lastArrivedAt = result.ArrivedAt;
        if (_interim)
        {
            Emit(
                new EmotionEvent(
                    StreamId,
                    Channel,
                    result.Segment,
                    result.Start / 16000.0,
                    result.End / 16000.0,
                    _labels[_smoother.Current],
                    _labels,
                    _smoother.Smoothed.ToArray(),
                    IsFinal: false,
                    WithEndToEnd(result.Latency, result.ArrivedAt)
                )
                {
                    ChannelName = ChannelName,
                    Models = Smoothed(result.ModelMs),
                }
            );
        }
    }

    private void EmitReadyFinals()
    {
        while (_segmentEnds.TryPeek(out var end) && end.LastWindowSequence < _next)
        {
            _segmentEnds.Dequeue();
            var scores = new float[_labels.Count];
            if (_segment == end.Segment && _smoother.TryGetPooled(scores, out var label))
            {
                Emit(
                    new EmotionEvent(
                        StreamId,
                        Channel,
                        end.Segment,
                        end.StartSeconds,
                        end.Seconds,
                        _labels[label],
                        _labels,
                        scores,
                        IsFinal: true,
                        WithEndToEnd(_lastLatency, Math.Max(_lastArrivedAt, end.ArrivedAt))
                    )
                    {
                        ChannelName = ChannelName,
                        Windows = _smoother.Windows,
                        WindowsDropped = _droppedInSegment,
                        Models = Pooled(scores, label),
                    }
                );
            }
            else
            {
                _stream.SegmentLost();
            }
        }
    }

    // End-to-end runs from the arrival of the window's last sample to the moment its event is published.
    private static EventLatency WithEndToEnd(EventLatency latency, long arrivedAt) =>
        latency with
        {
            EndToEndMs = Stopwatch.GetElapsedTime(arrivedAt).TotalMilliseconds,
        };

    private void Emit(EmotionEvent e) => _stream.Publish(e);

    private ModelScores[] Smoothed(double[]? modelMs)
    {
        var all = new ModelScores[_models.Length];
        for (var k = 0; k < _models.Length; k++)
        {
            var m = _models[k];
            all[k] = new ModelScores(
                m.Id,
                m.Labels[m.Smoother.Current],
                m.Labels,
                m.Smoother.Smoothed.ToArray(),
                modelMs is null ? 0 : modelMs[k]
            );
        }
        return all;
    }

    // The first model's pooled scores were computed by the caller; the others pool the same segment.
    private ModelScores[] Pooled(float[] firstScores, int firstLabel)
    {
        var all = new ModelScores[_models.Length];
        for (var k = 0; k < _models.Length; k++)
        {
            var m = _models[k];
            var scores = firstScores;
            var label = firstLabel;
            if (k > 0)
            {
                scores = new float[m.Labels.Count];
                m.Smoother.TryGetPooled(scores, out label);
            }
            all[k] = new ModelScores(
                m.Id,
                m.Labels[label],
                m.Labels,
                scores,
                _lastModelMs is null ? 0 : _lastModelMs[k]
            );
        }
        return all;
    }

    private sealed record ModelSlot(
        string Id,
        IReadOnlyList<string> Labels,
        int Offset,
        EmotionSmoother Smoother
    );

    private sealed record Result(
        int Segment,
        long Start,
        long End,
        float[]? Probabilities,
        EventLatency Latency,
        double[]? ModelMs,
        long ArrivedAt
    );
}
