using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Grpc;

/// <summary>
/// When and how often a <see cref="ReconnectingStream"/> opens a new call after UNAVAILABLE: exponential
/// backoff with jitter, a bounded number of attempts in a row (reset once a new call answers).
/// </summary>
public sealed record ReconnectPolicy
{
    /// <summary>No reconnection: the first UNAVAILABLE ends the stream.</summary>
    public static ReconnectPolicy None { get; } = new() { MaxAttempts = 0 };

    /// <summary>Attempts in a row before giving up; 0 never reconnects.</summary>
    public int MaxAttempts { get; init; } = 5;

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    public double Multiplier { get; init; } = 2;

    /// <summary>Each delay is spread uniformly by ± this fraction, so that clients of a failed replica do not return in step.</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>The delay before attempt <paramref name="attempt"/> (1-based).</summary>
    public TimeSpan Delay(int attempt, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var ms = Math.Min(
            MaxBackoff.TotalMilliseconds,
            InitialBackoff.TotalMilliseconds * Math.Pow(Multiplier, Math.Max(0, attempt - 1))
        );
        return TimeSpan.FromMilliseconds(ms * (1 + Jitter * (2 * random.NextDouble() - 1)));
    }
}

/// <summary>
/// A reconnection attempt: why (the status the last call ended with), after which delay, and where in stream
/// time the new call begins.
/// </summary>
public sealed record ReconnectEvent(int Attempt, TimeSpan Delay, double OffsetSeconds, Status Cause)
{
    /// <summary>Attempts allowed in a row (<see cref="ReconnectPolicy.MaxAttempts"/>).</summary>
    public int MaxAttempts { get; init; }

    /// <summary>True when no call of this stream had reached a server before: this is its first connection.</summary>
    public bool IsFirstConnection { get; init; }
}

/// <summary>
/// One logical StreamingRecognize stream that survives the loss of the replica serving it. On UNAVAILABLE
/// (replica stopped or gone, load balancer without a backend) it opens a new call with the same config after
/// a backoff (<see cref="ReconnectPolicy"/>) and goes on sending audio from where it was. Audio already sent
/// to the lost replica but not yet analysed is lost (a live source cannot rewind). Responses keep the
/// original stream's time and numbering: times are shifted by the seconds sent before the new call began,
/// segment numbers continue after the last segment seen on each channel. Write and read concurrently, as
/// with any duplex call.
/// </summary>
public sealed class ReconnectingStream : IAsyncDisposable
{
    private readonly EmotionRecognizer.EmotionRecognizerClient _client;
    private readonly RecognitionConfig _config;
    private readonly ReconnectPolicy _policy;
    private readonly CancellationToken _cancellationToken;
    private readonly double _bytesPerSecond;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<int, int> _nextSegment = [];
    private readonly Dictionary<int, int> _segmentBase = [];
    private readonly Random _random = new();
    private StreamingCall<StreamingRecognizeRequest, StreamingRecognizeResponse> _call;
    private TaskCompletionSource _callChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RpcException? _failure;
    private double _offsetSeconds;
    private long _bytesSent;
    private int _failuresInARow;
    private bool _requestCompleted;
    private bool _connected;

    private ReconnectingStream(
        EmotionRecognizer.EmotionRecognizerClient client,
        RecognitionConfig config,
        ReconnectPolicy policy,
        StreamingCall<StreamingRecognizeRequest, StreamingRecognizeResponse> call,
        CancellationToken cancellationToken
    )
    {
        _client = client;
        _config = config;
        _policy = policy;
        _call = call;
        _cancellationToken = cancellationToken;
        _bytesPerSecond = BytesPerSecond(config);
        _connected = !call.HasEnded;
    }

    /// <summary>
    /// Called when a new call has reached a server (from the reading side): its config went out on a
    /// connection. An attempt that could not connect is not a reconnection; see <see cref="Retrying"/>.
    /// </summary>
    public Action<ReconnectEvent>? Reconnected { get; init; }

    /// <summary>Called before each wait for a new attempt (from the reading side), with the status that ended the last call.</summary>
    public Action<ReconnectEvent>? Retrying { get; init; }

    /// <summary>New calls opened after the first.</summary>
    public int Reconnects { get; private set; }

    /// <summary>Audio sent so far, in seconds of stream time.</summary>
    public double SecondsSent => Interlocked.Read(ref _bytesSent) / _bytesPerSecond;

    /// <summary>Where the current call began in stream time (0 until a reconnection).</summary>
    public double OffsetSeconds => Volatile.Read(ref _offsetSeconds);

    /// <summary>Opens the first call and sends the config.</summary>
    public static async Task<ReconnectingStream> StartAsync(
        EmotionRecognizer.EmotionRecognizerClient client,
        RecognitionConfig config,
        ReconnectPolicy? policy = null,
        Action<ReconnectEvent>? reconnected = null,
        CancellationToken cancellationToken = default,
        Action<ReconnectEvent>? retrying = null
    )
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(config);
        var call = await client.StartStreamAsync(config, cancellationToken);
        return new ReconnectingStream(
            client,
            config,
            policy ?? new ReconnectPolicy(),
            call,
            cancellationToken
        )
        {
            Reconnected = reconnected,
            Retrying = retrying,
        };
    }

    /// <summary>Bytes per second of audio in the config's encoding, rate and channels.</summary>
    public static double BytesPerSecond(RecognitionConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var bytes = config.Encoding switch
        {
            AudioEncoding.Linear16 => 2,
            AudioEncoding.Float32 => 4,
            _ => 1,
        };
        return (double)bytes * Math.Max(1, config.AudioChannelCount) * Math.Max(1, config.SampleRateHertz);
    }

    /// <summary>Sends audio (whole frames); false when the stream has failed for good (read for the reason).</summary>
    public async ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> audio)
    {
        var message = new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio.Span) };
        while (true)
        {
            Task changed;
            await _gate.WaitAsync(_cancellationToken);
            try
            {
                if (_failure is not null)
                {
                    return false;
                }
                if (await _call.WriteAsync(message))
                {
                    Interlocked.Add(ref _bytesSent, audio.Length);
                    return true;
                }
                changed = _callChanged.Task;
            }
            finally
            {
                _gate.Release();
            }
            // The call has ended: the reading side either reconnects or fails; then try again.
            await changed.WaitAsync(_cancellationToken);
        }
    }

    /// <summary>Half-closes: no more audio. A failure after this point is not retried.</summary>
    public async ValueTask CompleteAsync()
    {
        await _gate.WaitAsync(_cancellationToken);
        try
        {
            _requestCompleted = true;
            await _call.CompleteRequestAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The next response in original stream time, or null at the end; a final failure throws <see cref="RpcException"/>.</summary>
    public async ValueTask<StreamingRecognizeResponse?> ReadAsync()
    {
        while (true)
        {
            if (_failure is not null)
            {
                throw _failure;
            }
            try
            {
                var response = await _call.ReadAsync();
                if (response is null)
                {
                    return null;
                }
                _failuresInARow = 0;
                _connected = true;
                return Shift(response);
            }
            catch (RpcException e)
                when (IsConnectionLoss(e)
                    && !Volatile.Read(ref _requestCompleted)
                    && !_cancellationToken.IsCancellationRequested
                )
            {
                await ReconnectAsync(e);
            }
            catch (OperationCanceledException e)
                when (!Volatile.Read(ref _requestCompleted) && !_cancellationToken.IsCancellationRequested)
            {
                // Not our cancellation: the connection went or the server reset the stream (a replica stopping).
                await ReconnectAsync(
                    new RpcException(
                        new Status(
                            StatusCode.Unavailable,
                            "The call ended without a status: the connection was lost or the server reset the stream.",
                            e
                        )
                    )
                );
            }
            catch (Exception e) when (_failure is null)
            {
                // Any other end is final: writers waiting for a new call must learn it too.
                Fail(e as RpcException ?? new RpcException(new Status(StatusCode.Cancelled, e.Message, e)));
                throw;
            }
        }
    }

    /// <summary>
    /// UNAVAILABLE, or the INTERNAL that Grpc.Net.Client reports when the HTTP/2 connection closed under a
    /// stream: a server shutting down can lose its UNAVAILABLE trailers that way (dotnet/aspnetcore#41074).
    /// </summary>
    internal static bool IsConnectionLoss(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable
        || (
            e.StatusCode == StatusCode.Internal
            && e.Status.DebugException is System.Net.Http.HttpProtocolException or IOException
        );

    private async Task ReconnectAsync(RpcException cause)
    {
        if (++_failuresInARow > _policy.MaxAttempts)
        {
            Fail(
                _policy.MaxAttempts == 0
                    ? cause
                    : new RpcException(
                        new Status(
                            cause.StatusCode,
                            $"{cause.Status.Detail} (gave up after {_policy.MaxAttempts} reconnection attempts)",
                            cause.Status.DebugException
                        )
                    )
            );
            throw _failure!;
        }
        var delay = _policy.Delay(_failuresInARow, _random);
        Retrying?.Invoke(
            new ReconnectEvent(_failuresInARow, delay, SecondsSent, cause.Status)
            {
                MaxAttempts = _policy.MaxAttempts,
                IsFirstConnection = !_connected,
            }
        );
        await Task.Delay(delay, _cancellationToken);
        await _gate.WaitAsync(_cancellationToken);
        try
        {
            await _call.DisposeAsync();
            // Segments seen so far keep their numbers; the new call's segments follow them.
            foreach (var (channel, next) in _nextSegment)
            {
                _segmentBase[channel] = next;
            }
            var offset = Interlocked.Read(ref _bytesSent) / _bytesPerSecond;
            Volatile.Write(ref _offsetSeconds, offset);
            _call = await _client.StartStreamAsync(_config, _cancellationToken);
            Interlocked
                .Exchange(
                    ref _callChanged,
                    new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
                )
                .TrySetResult();
            // A call whose config could not be sent never reached a server: its read reports why, and the
            // next attempt follows without a reconnection having happened.
            if (!_call.HasEnded)
            {
                Reconnects++;
                var first = !_connected;
                _connected = true;
                Reconnected?.Invoke(
                    new ReconnectEvent(_failuresInARow, delay, offset, cause.Status)
                    {
                        MaxAttempts = _policy.MaxAttempts,
                        IsFirstConnection = first,
                    }
                );
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Fail(RpcException failure)
    {
        _failure = failure;
        _callChanged.TrySetResult();
    }

    private StreamingRecognizeResponse Shift(StreamingRecognizeResponse response)
    {
        var offset = _offsetSeconds;
        if (response.Result is { } r)
        {
            (r.Segment, r.StartSeconds, r.EndSeconds) = (
                Renumber(r.Channel, r.Segment),
                r.StartSeconds + offset,
                r.EndSeconds + offset
            );
        }
        else if (response.SpeechEvent is { } s)
        {
            (s.Segment, s.TimeOffsetSeconds, s.SegmentStartSeconds) = (
                Renumber(s.Channel, s.Segment),
                s.TimeOffsetSeconds + offset,
                s.SegmentStartSeconds + offset
            );
        }
        else if (response.StreamStats is { } stats)
        {
            stats.AudioSeconds += offset;
        }
        return response;
    }

    private int Renumber(int channel, int segment)
    {
        var shifted = segment + _segmentBase.GetValueOrDefault(channel);
        _nextSegment[channel] = Math.Max(_nextSegment.GetValueOrDefault(channel), shifted + 1);
        return shifted;
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            await _call.DisposeAsync();
        }
        finally
        {
            _gate.Release();
            _gate.Dispose();
        }
    }
}
