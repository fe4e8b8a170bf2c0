using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RealtimeSer.Grpc;

/// <summary>Maps a gRPC method (POST /package.Service/Method) to a handler that sees a <see cref="GrpcServerCall"/>.</summary>
public static class GrpcEndpoints
{
    /// <summary>
    /// The handler returns normally for OK or throws <see cref="GrpcException"/> for another status; any
    /// other exception becomes INTERNAL (after <paramref name="onUnexpected"/> sees it).
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcMethod(
        this IEndpointRouteBuilder endpoints,
        string path,
        Func<int> maxMessageSize,
        Func<GrpcServerCall, Task> handler,
        Action<Exception>? onUnexpected = null
    ) =>
        endpoints.MapPost(
            path,
            async (HttpContext context) =>
            {
                using var call = await GrpcServerCall.AcceptAsync(context, maxMessageSize());
                if (call is null)
                {
                    return;
                }
                GrpcStatus status;
                try
                {
                    await handler(call);
                    status = GrpcStatus.Ok;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    if (context.RequestAborted.IsCancellationRequested)
                    {
                        // Nobody is listening any more.
                        return;
                    }
                    if (e is not GrpcException and not OperationCanceledException)
                    {
                        onUnexpected?.Invoke(e);
                    }
                    status = GrpcStatus.FromException(e, call.DeadlineExpired);
                }
                await call.CompleteAsync(status);
            }
        );
}
