using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// Unexpected exceptions in a handler are logged here and reach the client as INTERNAL with a generic
/// message (they may carry internals); <see cref="RpcException"/>s and cancellations pass unchanged. Once the
/// client has cancelled (or the deadline passed) whatever the abort surfaced as is that cancellation, not a
/// server error: it is neither logged as one nor reported as INTERNAL.
/// </summary>
internal sealed class ErrorInterceptor(ILoggerFactory loggers) : AroundCallInterceptor
{
    private readonly ILogger _logger = loggers.CreateLogger("RealtimeSer.Server");

    protected override async Task AroundAsync(ServerCallContext context, Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception e) when (IsUnexpected(e))
        {
            if (CallStatus.Aborted(context, e) is { } aborted)
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
