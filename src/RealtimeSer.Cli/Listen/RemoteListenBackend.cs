using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Grpc.Core;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Listen;

/// <summary>
/// A RealtimeSer server over gRPC: the microphone goes out as LINEAR16 at the capture rate and channel
/// count with interim results on. Latency is measured here, from the capture timestamp of the block that
/// carried a window's last sample (found by the result's end in stream time) to the result's arrival, so it
/// includes the network both ways; the server's own end-to-end figure is replaced by it.
/// </summary>
internal sealed class RemoteListenBackend(
    SerChannel channel,
    RecognitionConfig config,
    ReconnectPolicy policy,
    IReadOnlyList<string> labels
) : IListenBackend
{
    private readonly StreamTimeline _timeline = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _readDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ReconnectingStream? _stream;
    private byte[] _bytes = [];
    private long _framesSent;
    private int _rate = 1;
    private int _channels = 1;
    private StreamStats? _stats;
    private volatile bool _inSpeech;
    private volatile bool _abandoned;

    public IReadOnlyList<string> Labels { get; private set; } = labels;

    /// <summary>Reconnections after the first call (with --reconnect).</summary>
    public int Reconnects => _stream?.Reconnects ?? 0;

    public async Task OpenAsync(int sampleRate, int channels, CancellationToken cancellationToken)
    {
        _rate = sampleRate;
        _channels = channels;
        config.Encoding = AudioEncoding.Linear16;
        config.SampleRateHertz = sampleRate;
        config.AudioChannelCount = channels;
        config.InterimResults = true;
        _stream = await ReconnectingStream.StartAsync(
            channel.Recognizer,
            config,
            policy,
            ConnectionMessages.Reconnected,
            _abort.Token,
            r => ConnectionMessages.Retrying(channel, r)
        );
    }

    private ReconnectingStream Stream =>
        _stream ?? throw new InvalidOperationException("the stream is not open yet");

    public async ValueTask<bool> WriteAsync(
        ReadOnlyMemory<float> samples,
        long capturedAt,
        CancellationToken cancellationToken
    )
    {
        if (_bytes.Length < samples.Length * 2)
        {
            _bytes = new byte[samples.Length * 2];
        }
        var n = RemoteEvents.ToLinear16(samples.Span, _bytes);
        _framesSent += samples.Length / _channels;
        // Marked before sending: a result for this audio can only come after it.
        _timeline.Add(_framesSent / (double)_rate, capturedAt);
        try
        {
            return await Stream.WriteAsync(_bytes.AsMemory(0, n)).AsTask().WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // The reading side failed; it reports why.
            return false;
        }
    }

    public async Task CompleteAsync(CancellationToken drain)
    {
        try
        {
            await Stream.CompleteAsync();
            await _readDone.Task.WaitAsync(drain);
        }
        catch (OperationCanceledException)
        {
            // The server did not finish in time (or the stream already failed): stop waiting for it.
            _abandoned = true;
            await _abort.CancelAsync();
        }
    }

    public async IAsyncEnumerable<EmotionEvent> ReadEventsAsync(
        [EnumeratorCancellation] CancellationToken cancellationToken = default
    )
    {
        try
        {
            while (true)
            {
                StreamingRecognizeResponse? response;
                try
                {
                    response = await Stream.ReadAsync().AsTask().WaitAsync(cancellationToken);
                }
                catch (Exception) when (_abandoned)
                {
                    response = null;
                }
                catch (Exception)
                {
                    // Writers blocked on a failed call must not wait for a reconnection that never comes.
                    await _abort.CancelAsync();
                    throw;
                }
                if (response is null)
                {
                    yield break;
                }
                switch (response.ResponseCase)
                {
                    case StreamingRecognizeResponse.ResponseOneofCase.Result:
                        var received = Stopwatch.GetTimestamp();
                        var e = RemoteEvents.ToEvent(response.Result, "mic");
                        if (Labels.Count == 0)
                        {
                            Labels = e.Labels;
                        }
                        if (_timeline.Find(e.EndSeconds) is { } capturedAt)
                        {
                            e = RemoteEvents.WithEndToEnd(
                                e,
                                Stopwatch.GetElapsedTime(capturedAt, received).TotalMilliseconds
                            );
                        }
                        yield return e;
                        break;
                    case StreamingRecognizeResponse.ResponseOneofCase.SpeechEvent
                        when response.SpeechEvent.Channel == 0:
                        _inSpeech = response.SpeechEvent.Type == Grpc.V1.SpeechEvent.Types.Type.SpeechStart;
                        break;
                    case StreamingRecognizeResponse.ResponseOneofCase.StreamStats:
                        Volatile.Write(ref _stats, response.StreamStats);
                        break;
                }
            }
        }
        finally
        {
            _readDone.TrySetResult();
        }
    }

    /// <summary>From the server's speech events: no probability crosses the wire, so it reads 1 or 0.</summary>
    public (bool InSpeech, float Probability) VadState => (_inSpeech, _inSpeech ? 1f : 0f);

    public double SecondsReceived => Volatile.Read(ref _stats)?.AudioSeconds ?? _stream?.SecondsSent ?? 0;

    public long WindowsClassified => Volatile.Read(ref _stats)?.WindowsClassified ?? 0;

    public long WindowsDropped => Volatile.Read(ref _stats)?.WindowsDropped ?? 0;

    public double AudioSecondsShed => Volatile.Read(ref _stats)?.AudioSecondsShed ?? 0;

    public long SegmentsLost => Volatile.Read(ref _stats)?.SegmentsLost ?? 0;

    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync();
        }
        _abort.Dispose();
    }
}
