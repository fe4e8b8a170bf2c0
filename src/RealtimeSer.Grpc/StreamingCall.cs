using Grpc.Core;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Grpc;

/// <summary>
/// A bidirectional call of Grpc.Net.Client in the shape its users here need: a write reports whether the call
/// still takes requests (its end, OK or not, is read from the response side), a read returns null at an OK
/// end and throws <see cref="RpcException"/> at any other. Disposing before the end cancels the call.
/// </summary>
public sealed class StreamingCall<TRequest, TResponse> : IAsyncDisposable
    where TRequest : class
    where TResponse : class
{
    private readonly AsyncDuplexStreamingCall<TRequest, TResponse> _call;
    private readonly CancellationToken _cancellationToken;

    public StreamingCall(
        AsyncDuplexStreamingCall<TRequest, TResponse> call,
        CancellationToken cancellationToken
    )
    {
        ArgumentNullException.ThrowIfNull(call);
        _call = call;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Sends one request; false once the call has ended (read for its status).</summary>
    public async ValueTask<bool> WriteAsync(TRequest request)
    {
        try
        {
            await _call.RequestStream.WriteAsync(request, _cancellationToken);
            return true;
        }
        catch (Exception e) when (EndedUnderUs(e))
        {
            // The call ended under the write (a refusal, a reset): not ours to cancel, so not a cancellation.
            HasEnded = true;
            return false;
        }
    }

    /// <summary>A write found the call already ended (refused, or no connection could be made): read for why.</summary>
    public bool HasEnded { get; private set; }

    /// <summary>
    /// The call ended while we wrote, for a reason the reading side reports: Grpc.Net.Client throws the
    /// transport's own exception (an <see cref="IOException"/> such as HttpProtocolException for a stream a
    /// proxy reset) as well as its RPC, state and cancellation errors.
    /// </summary>
    private bool EndedUnderUs(Exception e) =>
        e is RpcException or InvalidOperationException or OperationCanceledException or IOException
        && !_cancellationToken.IsCancellationRequested;

    /// <summary>Half-closes: the server sees the end of the requests.</summary>
    public async ValueTask CompleteRequestAsync()
    {
        try
        {
            await _call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (EndedUnderUs(e))
        {
            // The call has already ended; the reading side has its status.
        }
    }

    /// <summary>The next response, or null at an OK end; any other end throws <see cref="RpcException"/>.</summary>
    public async ValueTask<TResponse?> ReadAsync()
    {
        try
        {
            return await _call.ResponseStream.MoveNext(_cancellationToken)
                ? _call.ResponseStream.Current
                : null;
        }
        catch (OperationCanceledException)
            when (!_cancellationToken.IsCancellationRequested && FailedStatus() is { } status)
        {
            // With ThrowOperationCanceledOnCancellation, Grpc.Net.Client reports a call that never got a
            // connection (refused, no such host) as a cancellation (grpc/grpc-dotnet#2032); its status says why.
            throw new RpcException(status);
        }
    }

    /// <summary>The status of a call that ended in failure (not by cancellation); null while it runs.</summary>
    private Status? FailedStatus()
    {
        try
        {
            var status = _call.GetStatus();
            return status.StatusCode is StatusCode.OK or StatusCode.Cancelled ? null : status;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public ValueTask DisposeAsync()
    {
        _call.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Opening StreamingRecognize with its config.</summary>
public static class RecognizerCalls
{
    /// <summary>Opens a stream and sends the config; then write audio and read responses concurrently.</summary>
    public static async Task<
        StreamingCall<StreamingRecognizeRequest, StreamingRecognizeResponse>
    > StartStreamAsync(
        this EmotionRecognizer.EmotionRecognizerClient client,
        RecognitionConfig config,
        CancellationToken cancellationToken = default
    )
    {
        ArgumentNullException.ThrowIfNull(client);
        var call = new StreamingCall<StreamingRecognizeRequest, StreamingRecognizeResponse>(
            client.StreamingRecognize(cancellationToken: cancellationToken),
            cancellationToken
        );
        // A refusal (key, limits) may already have ended the call: the reading side reports it.
        _ = await call.WriteAsync(new StreamingRecognizeRequest { Config = config });
        return call;
    }
}
