using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>
/// One registered stream's running summary per channel: speech on or off, the current label, negative
/// share so far and over the recent window, the last final. Fed by the stream's single event reader; read
/// by dashboard snapshots on other threads, hence the lock.
/// </summary>
public sealed class TrackedStream : IDisposable
{
    private readonly StreamRegistry _registry;
    private readonly EngineStream _stream;
    private readonly ChannelSummary[] _channels;
    private readonly bool[] _negative;
    private readonly bool[] _alert;
    private readonly Lock _lock = new();
    private FinalSpan? _lastFinal;
    private int _disposed;

    internal TrackedStream(StreamRegistry registry, EngineStream stream, ModelManifest model, string source)
    {
        _registry = registry;
        _stream = stream;
        Source = source;
        Model = model.Id;
        StartedAt = DateTimeOffset.UtcNow;
        var labels = model.Labels;
        _negative = [.. labels.Select(l => Matches(registry.Options.NegativeLabels, l))];
        var alertLabels =
            registry.Options.AlertLabels.Count > 0
                ? registry.Options.AlertLabels
                : registry.Options.NegativeLabels;
        _alert = [.. labels.Select(l => Matches(alertLabels, l))];
        _channels = new ChannelSummary[stream.Channels];
        for (var c = 0; c < _channels.Length; c++)
        {
            var name = stream.Format.ChannelNames is { } names && c < names.Count ? names[c] : null;
            _channels[c] = new ChannelSummary(name);
        }
        Labels = labels;
    }

    public string Id => _stream.Id;

    public string Source { get; }

    public string Model { get; }

    public IReadOnlyList<string> Labels { get; }

    public DateTimeOffset StartedAt { get; }

    private static bool Matches(List<string> set, string label) =>
        set.Exists(s => string.Equals(s, label, StringComparison.OrdinalIgnoreCase));

    /// <summary>Takes in one engine event of this stream.</summary>
    public void Observe(EngineEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if ((uint)e.Channel >= (uint)_channels.Length)
        {
            return;
        }
        var channel = _channels[e.Channel];
        if (
            _registry.Governor is { } governor
            && e is EmotionEvent emotion
            && !_stream.IsAheadOfRealTime
            && !_stream.IsRecorded
        )
        {
            governor.ObserveLatency(emotion.Latency.EndToEndMs);
        }
        lock (_lock)
        {
            switch (e)
            {
                case SpeechEvent { IsStart: true } s:
                    channel.InSpeech = true;
                    channel.OpenSegment = s.Segment;
                    channel.OpenStart = s.Seconds;
                    channel.OpenEnd = s.Seconds;
                    channel.OpenLabel = -1;
                    break;
                case SpeechEvent:
                    channel.InSpeech = false;
                    break;
                case EmotionEvent { IsFinal: false } r when r.Segment == channel.OpenSegment:
                    channel.Label = r.Label;
                    channel.OpenLabel = IndexOf(r.Label);
                    channel.OpenEnd = Math.Max(channel.OpenEnd, r.EndSeconds);
                    break;
                case EmotionEvent { IsFinal: true } r:
                    var index = IndexOf(r.Label);
                    var span = new FinalSpan(r.Channel, r.StartSeconds, r.EndSeconds, index);
                    channel.Label = r.Label;
                    channel.Finals.Add(span);
                    var length = Math.Max(0, r.EndSeconds - r.StartSeconds);
                    channel.SpeechSeconds += length;
                    if (index >= 0 && _negative[index])
                    {
                        channel.NegativeSeconds += length;
                    }
                    if (r.Segment == channel.OpenSegment)
                    {
                        channel.OpenSegment = -1;
                    }
                    _lastFinal = span;
                    break;
            }
        }
    }

    private int IndexOf(string label)
    {
        for (var i = 0; i < Labels.Count; i++)
        {
            if (Labels[i] == label)
            {
                return i;
            }
        }
        return -1;
    }

    public StreamSnapshot Snapshot()
    {
        var options = _registry.Options;
        var now = _stream.SecondsReceived;
        var from = now - options.AlertWindowSeconds;
        var channels = new List<ChannelSnapshot>(_channels.Length);
        FinalSpan? last;
        lock (_lock)
        {
            for (var c = 0; c < _channels.Length; c++)
            {
                var ch = _channels[c];
                // Finals that ended before the window can never count again.
                ch.Finals.RemoveAll(f => f.End < from);
                double speech = 0,
                    negative = 0,
                    alert = 0;
                void Add(double start, double end, int label)
                {
                    var overlap = Math.Min(end, now) - Math.Max(start, from);
                    if (overlap <= 0)
                    {
                        return;
                    }
                    speech += overlap;
                    if (label >= 0 && _negative[label])
                    {
                        negative += overlap;
                    }
                    if (label >= 0 && _alert[label])
                    {
                        alert += overlap;
                    }
                }
                foreach (var f in ch.Finals)
                {
                    Add(f.Start, f.End, f.Label);
                }
                if (ch.OpenSegment >= 0 && ch.OpenLabel >= 0)
                {
                    Add(ch.OpenStart, ch.OpenEnd, ch.OpenLabel);
                }
                var recentNegative = speech > 0 ? negative / speech : 0;
                var recentAlert = speech > 0 ? alert / speech : 0;
                channels.Add(
                    new ChannelSnapshot(
                        c,
                        ch.Name,
                        ch.InSpeech,
                        ch.Label,
                        ch.SpeechSeconds,
                        ch.SpeechSeconds > 0 ? ch.NegativeSeconds / ch.SpeechSeconds : 0,
                        speech,
                        recentNegative,
                        recentAlert,
                        speech >= options.AlertMinSpeechSeconds && recentAlert > options.AlertShare
                    )
                );
            }
            last = _lastFinal;
        }
        LastFinal? lastFinal = last is { } l
            ? new LastFinal(l.Channel, _channels[l.Channel].Name, LabelAt(l.Label), l.Start, l.End)
            : null;
        return new StreamSnapshot(
            Id,
            Source,
            Model,
            StartedAt,
            Math.Round(now, 2),
            channels,
            lastFinal,
            channels.Count > 0 ? channels.Max(c => c.RecentNegativeShare) : 0,
            channels.Exists(c => c.Alert)
        );
    }

    private string LabelAt(int index) => index >= 0 ? Labels[index] : "";

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _registry.Unregister(this);
        }
    }

    private sealed record FinalSpan(int Channel, double Start, double End, int Label);

    private sealed class ChannelSummary(string? name)
    {
        public string? Name { get; } = name;
        public bool InSpeech { get; set; }
        public string? Label { get; set; }
        public double SpeechSeconds { get; set; }
        public double NegativeSeconds { get; set; }
        public List<FinalSpan> Finals { get; } = [];
        public int OpenSegment { get; set; } = -1;
        public double OpenStart { get; set; }
        public double OpenEnd { get; set; }
        public int OpenLabel { get; set; } = -1;
    }
}
