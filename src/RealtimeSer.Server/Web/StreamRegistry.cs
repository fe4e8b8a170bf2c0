using System.Collections.Concurrent;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>
/// The live streams of this server, whatever their transport, as the dashboard sees them: labels and speech
/// times only, never audio. Transports register a stream when it opens and pass every engine event through
/// <see cref="TrackedStream.Observe"/>; the dashboard reads <see cref="Snapshot"/> and waits on
/// <see cref="Changed"/>.
/// </summary>
public sealed class StreamRegistry
{
    public const string GrpcSource = "grpc";
    public const string BrowserSource = "browser";

    private readonly ConcurrentDictionary<string, TrackedStream> _streams = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public StreamRegistry(DashboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    public DashboardOptions Options { get; }

    /// <summary>Told every live event's latency, for adaptive admission.</summary>
    public LoadGovernor? Governor { get; init; }

    /// <summary>Completes when a stream opens or closes (not on every event: the dashboard polls for those).</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    public int Count => _streams.Count;

    public TrackedStream Register(EngineStream stream, EmotionEngine engine, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(engine);
        var tracked = new TrackedStream(this, stream, engine.Classifier.Manifest, source);
        if (!_streams.TryAdd(stream.Id, tracked))
        {
            throw new InvalidOperationException($"stream id {stream.Id} is already registered.");
        }
        Signal();
        return tracked;
    }

    internal void Unregister(TrackedStream stream)
    {
        if (_streams.TryRemove(new KeyValuePair<string, TrackedStream>(stream.Id, stream)))
        {
            Signal();
        }
    }

    /// <summary>Every live stream, most negative recent speech first.</summary>
    public DashboardSnapshot Snapshot()
    {
        var streams = _streams
            .Values.Select(s => s.Snapshot())
            .OrderByDescending(s => s.Alert)
            .ThenByDescending(s => s.RecentNegativeShare)
            .ThenBy(s => s.StartedAt)
            .ToList();
        return new DashboardSnapshot(
            DateTimeOffset.UtcNow,
            new AlertRule(
                Options.AlertLabels,
                Options.AlertShare,
                Options.AlertWindowSeconds,
                Options.AlertMinSpeechSeconds
            ),
            Options.NegativeLabels,
            streams
        );
    }

    private void Signal() =>
        Interlocked
            .Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously))
            .TrySetResult();
}
