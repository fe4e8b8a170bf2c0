using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>The next request message of a stream, with wire errors as gRPC statuses.</summary>
internal static class RequestReader
{
    /// <summary>The next message, or null when the client half-closed.</summary>
    public static async Task<T?> NextAsync<T>(IAsyncStreamReader<T> requests, CancellationToken token)
        where T : class
    {
        try
        {
            return await requests.MoveNext(token) ? requests.Current : null;
        }
        catch (InvalidDataException e)
        {
            // A compressed-flag byte other than 0 or 1: the peer is not speaking gRPC framing.
            throw new RpcException(new Status(StatusCode.Internal, e.Message));
        }
        catch (IOException e) when (e.Message.StartsWith("Message too large", StringComparison.Ordinal))
        {
            // A length prefix beyond 2 GiB: Grpc.AspNetCore stops before comparing it with the limit.
            throw new RpcException(
                new Status(
                    StatusCode.ResourceExhausted,
                    "Received message exceeds the maximum configured message size."
                )
            );
        }
        catch (InvalidOperationException) when (token.IsCancellationRequested)
        {
            // Grpc.AspNetCore refuses reads once the call is cancelled; that is the cancellation itself.
            throw new OperationCanceledException(token);
        }
    }
}
