using System.Globalization;
using System.IO.Pipelines;
using Google.Protobuf;
using RealtimeSer.Grpc;

namespace RealtimeSer.Server;

/// <summary>
/// Reads request messages with an idle bound: a call that delivers no complete message within the timeout
/// ends with DEADLINE_EXCEEDED. This is what cuts off clients that vanish without a reset and slow-loris
/// clients that trickle a frame a byte at a time (Kestrel's own minimum data rate is off for gRPC calls,
/// whose bodies are legitimately slow). One timer per call; the clock only runs while a read waits.
/// </summary>
internal sealed class StreamIdleTimer(TimeSpan timeout) : IDisposable
{
    private readonly CancellationTokenSource _idle = new();

    public static StreamIdleTimer For(ServerOptions options) =>
        new(TimeSpan.FromSeconds(options.StreamIdleTimeoutSeconds));

    public async ValueTask<T?> ReadAsync<T>(
        PipeReader body,
        MessageParser<T> parser,
        int maxMessageBytes,
        CancellationToken cancellationToken
    )
        where T : class, IMessage<T>
    {
        if (timeout <= TimeSpan.Zero)
        {
            return await body.ReadMessageAsync(parser, maxMessageBytes, cancellationToken);
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _idle.Token);
        _idle.CancelAfter(timeout);
        try
        {
            return await body.ReadMessageAsync(parser, maxMessageBytes, linked.Token);
        }
        catch (OperationCanceledException)
            when (_idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new GrpcException(
                GrpcStatusCode.DeadlineExceeded,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"No complete request message for {timeout.TotalSeconds:0.###} s: the server ends idle streams; send audio at least that often."
                )
            );
        }
        finally
        {
            if (!_idle.IsCancellationRequested)
            {
                _idle.CancelAfter(Timeout.InfiniteTimeSpan);
            }
        }
    }

    public void Dispose() => _idle.Dispose();
}
