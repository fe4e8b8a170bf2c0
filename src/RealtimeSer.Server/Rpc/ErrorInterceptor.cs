using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// Unexpected exceptions in a handler are logged here and reach the client as INTERNAL with a generic
/// message (they may carry internals); <see cref="RpcException"/>s and cancellations pass unchanged. Once the
/// client has cancelled (or the deadline passed) whatever the abort surfaced as is that cancellation, not a
/// server error: it is neither logged as one nor reported as INTERNAL.
/// </summary>
internal sealed class ErrorInterceptor(ILoggerFactory loggers) : Interceptor
{
    private readonly ILogger _logger = loggers.CreateLogger("RealtimeSer.Server");

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation
    )
    {
        TResponse? response = null;
        await GuardAsync(context, async () => response = await continuation(request, context));
        return response!;
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation
    ) => GuardAsync(context, () => continuation(request, responseStream, context));

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation
    ) => GuardAsync(context, () => continuation(requestStream, responseStream, context));

    private async Task GuardAsync(ServerCallContext context, Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception e) when (IsUnexpected(e))
        {
            if (CallStatus.Aborted(context) is { } aborted)
            {
                throw new RpcException(
                    new Status(
                        aborted,
                        aborted == StatusCode.DeadlineExceeded
                            ? "The call's deadline passed."
                            : "The client cancelled the call.",
                        e
                    )
                );
            }
            throw Internal(e);
        }
    }

    private static bool IsUnexpected(Exception e) =>
        e is not RpcException and not OperationCanceledException and not OutOfMemoryException;

    private RpcException Internal(Exception e)
    {
        ServerLog.Unexpected(_logger, e);
        return new RpcException(new Status(StatusCode.Internal, "Internal server error."));
    }
}
