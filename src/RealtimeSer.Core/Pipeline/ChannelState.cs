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
    private readonly ModelSlot[] _models;
    private readonly bool _interim;
    private readonly SortedDictionary<long, Result> _waiting = [];
    private readonly Queue<(SpeechEvent End, bool Late)> _segmentEnds = new();
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
        StreamOptions options,
        IReadOnlyList<ModelOutput> models,
        LateWork late,
        EngineProfile profile
    )
    {
        _stream = stream;
        Late = late;
        Profile = profile;
        Channel = channel;
        ChannelName = channelName;
        _interim = options.InterimResults;
        _models = new ModelSlot[models.Count];
        for (var k = 0; k < models.Count; k++)
        {
            var labels = models[k].Manifest.Labels;
            _models[k] = new ModelSlot(
                models[k].Manifest.Id,
                labels,
                models[k].Offset,
                models[k].Width,
                models[k].Adapter,
                new EmotionSmoother(labels.Count, options.SmoothingSeconds, options.HysteresisMargin),
                new float[labels.Count]
            );
        }
    }

    public string StreamId => _stream.Id;

    /// <summary>The stream's audio has ended: its last windows are on their way and its caller waits for them.</summary>
    public bool StreamAudioEnded => _stream.AudioEnded;

    internal EngineProfile Profile { get; }

    /// <summary>The stream's rule for results that would come too late.</summary>
    public LateWork Late { get; }

    public int Channel { get; }

    public string? ChannelName { get; }

    /// <summary>
    /// Called by the writer, before the segment's windows are queued. A live stream at real time that found the
    /// end in audio which arrived more than the late-window bound ago (its own task was starved of CPU, then
    /// caught up through shed audio) gives that segment no final: the final could only come late, by as long as the
    /// starvation lasted, and late windows are dropped by the same bound. The segment counts as lost.
    /// </summary>
    public void RegisterSegmentEnd(SpeechEvent end)
    {
        var late = Late.IsTooLate(end.ArrivedAt, Stopwatch.GetTimestamp());
        lock (_gate)
        {
            _segmentEnds.Enqueue((end, late));
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
        var started = Stopwatch.GetTimestamp();
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
        Profile.AddDelivery(started);
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
            var outputs = result.Probabilities.AsSpan(m.Offset, m.Width);
            if (m.Adapter is not null)
            {
                // In window order, so a channel's speaker statistics do not depend on how batches finished.
                var adapting = Stopwatch.GetTimestamp();
                try
                {
                    m.Adapter.Adapt(outputs, m.Adapted);
                    Profile.AddAdaptation(adapting);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _stream.Fail(e);
                    return;
                }
                outputs = m.Adapted;
            }
            m.Smoother.Add(outputs[..m.Labels.Count], advance, seconds);
        }
        _lastLatency = result.Latency;
        _lastModelMs = result.ModelMs;
        _lastArrivedAt = result.ArrivedAt;
        if (_interim)
        {
            var models = new ModelScores[_models.Length];
            for (var k = 0; k < _models.Length; k++)
            {
                var smoother = _models[k].Smoother;
                models[k] = Scores(k, smoother.Current, smoother.Smoothed.ToArray(), result.ModelMs);
            }
            Emit(
                new EmotionEvent(
                    StreamId,
                    Channel,
                    result.Segment,
                    result.Start / 16000.0,
                    result.End / 16000.0,
                    models[0].Label,
                    models[0].Labels,
                    models[0].Scores,
                    IsFinal: false,
                    WithEndToEnd(result.Latency, result.ArrivedAt)
                )
                {
                    ChannelName = ChannelName,
                    Models = models,
                }
            );
        }
    }

    private void EmitReadyFinals()
    {
        while (_segmentEnds.TryPeek(out var ready) && ready.End.LastWindowSequence < _next)
        {
            _segmentEnds.Dequeue();
            var end = ready.End;
            if (!ready.Late && _segment == end.Segment && TryPool(out var models))
            {
                Emit(
                    new EmotionEvent(
                        StreamId,
                        Channel,
                        end.Segment,
                        end.StartSeconds,
                        end.Seconds,
                        models[0].Label,
                        models[0].Labels,
                        models[0].Scores,
                        IsFinal: true,
                        WithEndToEnd(_lastLatency, Math.Max(_lastArrivedAt, end.ArrivedAt))
                    )
                    {
                        ChannelName = ChannelName,
                        Windows = _models[0].Smoother.Windows,
                        WindowsDropped = _droppedInSegment,
                        Models = models,
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

    // Every model pools the same windows of the segment, so all have scores when the first has.
    private bool TryPool(out ModelScores[] models)
    {
        models = new ModelScores[_models.Length];
        for (var k = 0; k < _models.Length; k++)
        {
            var scores = new float[_models[k].Labels.Count];
            if (!_models[k].Smoother.TryGetPooled(scores, out var label))
            {
                return false;
            }
            models[k] = Scores(k, label, scores, _lastModelMs);
        }
        return true;
    }

    private ModelScores Scores(int k, int label, float[] scores, double[]? modelMs)
    {
        var m = _models[k];
        return new ModelScores(m.Id, m.Labels[label], m.Labels, scores, modelMs is null ? 0 : modelMs[k]);
    }

    private sealed record ModelSlot(
        string Id,
        IReadOnlyList<string> Labels,
        int Offset,
        int Width,
        Inference.IChannelAdapter? Adapter,
        EmotionSmoother Smoother,
        float[] Adapted
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
