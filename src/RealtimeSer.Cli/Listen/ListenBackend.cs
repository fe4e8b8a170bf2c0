using System.Runtime.CompilerServices;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Cli.Listen;

/// <summary>
/// Where a listening session's audio goes and its events come from: the in-process engine or a server.
/// <see cref="ListenRunner"/> owns the microphone, the view, the JSON lines and the summary either way.
/// </summary>
internal interface IListenBackend : IAsyncDisposable
{
    /// <summary>The model's labels in score order; empty until known.</summary>
    IReadOnlyList<string> Labels { get; }

    /// <summary>Opens the stream for audio at the capture rate and channel count.</summary>
    Task OpenAsync(int sampleRate, int channels, CancellationToken cancellationToken);

    /// <summary>Sends captured samples (interleaved); false when the stream has ended for good.</summary>
    ValueTask<bool> WriteAsync(
        ReadOnlyMemory<float> samples,
        long capturedAt,
        CancellationToken cancellationToken
    );

    /// <summary>No more audio: the open segment gets its final; bounded by <paramref name="drain"/>.</summary>
    Task CompleteAsync(CancellationToken drain);

    /// <summary>Emotion results, latency measured from capture; ends after <see cref="CompleteAsync"/>.</summary>
    IAsyncEnumerable<EmotionEvent> ReadEventsAsync(CancellationToken cancellationToken = default);

    (bool InSpeech, float Probability) VadState { get; }

    double SecondsReceived { get; }

    long WindowsClassified { get; }

    long WindowsDropped { get; }

    /// <summary>Seconds of audio skipped because the engine fell behind (live load shedding).</summary>
    double AudioSecondsShed { get; }

    long SegmentsLost { get; }
}

/// <summary>The in-process engine in live mode.</summary>
internal sealed class EngineListenBackend(EmotionEngine engine) : IListenBackend
{
    private EngineStream? _stream;

    private EngineStream Stream =>
        _stream ?? throw new InvalidOperationException("the stream is not open yet");

    public IReadOnlyList<string> Labels => engine.Classifier.Manifest.Labels;

    public Task OpenAsync(int sampleRate, int channels, CancellationToken cancellationToken)
    {
        _stream = engine.OpenStream("mic", new StreamFormat(sampleRate, channels, ChannelMode.Mix));
        return Task.CompletedTask;
    }

    public async ValueTask<bool> WriteAsync(
        ReadOnlyMemory<float> samples,
        long capturedAt,
        CancellationToken cancellationToken
    )
    {
        await Stream.WriteAsync(samples, capturedAt, cancellationToken);
        return true;
    }

    public Task CompleteAsync(CancellationToken drain) => Stream.CompleteAsync(drain);

    public async IAsyncEnumerable<EmotionEvent> ReadEventsAsync(
        [EnumeratorCancellation] CancellationToken cancellationToken = default
    )
    {
        await foreach (var e in Stream.Events.ReadAllAsync(cancellationToken))
        {
            if (e is EmotionEvent emotion)
            {
                yield return emotion;
            }
        }
    }

    public (bool InSpeech, float Probability) VadState => _stream?.VadState(0) ?? (false, 0);

    public double SecondsReceived => _stream?.SecondsReceived ?? 0;

    public long WindowsClassified => _stream?.WindowsClassified ?? 0;

    public long WindowsDropped => _stream?.WindowsDropped ?? 0;

    public double AudioSecondsShed => _stream?.AudioSecondsShed ?? 0;

    public long SegmentsLost => _stream?.SegmentsLost ?? 0;

    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync();
        }
    }
}
