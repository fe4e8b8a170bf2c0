using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>
/// The status a call really ended with, for logs and the calls counter. A call whose client went away or whose
/// deadline passed ended CANCELLED or DEADLINE_EXCEEDED whatever surfaced in the handler: a read that failed
/// with an I/O error or a request stream that looked half-closed (OK) are only how the abort showed.
/// </summary>
internal static class CallStatus
{
    public static StatusCode Of(Exception? error, ServerCallContext context) =>
        context.UserState.ContainsKey(EventDelivery.UnreadMark)
            ? StatusCode.DeadlineExceeded
            : Aborted(context, error)
                ?? error switch
                {
                    null => StatusCode.OK,
                    RpcException rpc => rpc.StatusCode,
                    OperationCanceledException => StatusCode.Cancelled,
                    _ => StatusCode.Internal,
                };

    /// <summary>
    /// A client enforces its deadline itself and resets the call when it passes, a moment before the server's
    /// own copy of the deadline expires (that one runs from when the server began the call, after the request
    /// crossed the network and waited for a thread): an abort this close to the deadline is the deadline.
    /// </summary>
    private static readonly TimeSpan s_deadlineAllowance = TimeSpan.FromSeconds(1);

    /// <summary>
    /// CANCELLED or DEADLINE_EXCEEDED once the client cancelled or the deadline passed, or once the handler
    /// failed with the transport's I/O error, else null. When a client resets the call (it cancelled, or its own
    /// deadline timer fired) Kestrel fails the request body's reads with an <see cref="IOException"/> at once
    /// but signals the call's cancellation from the thread pool a moment later: on a busy machine the handler
    /// sees the I/O error first, and it is the same abort. A handler here does no other I/O than the call's own.
    /// </summary>
    public static StatusCode? Aborted(ServerCallContext context, Exception? error = null) =>
        context.CancellationToken.IsCancellationRequested || IsTransportFailure(error)
            ? AbortKind(context)
            : null;

    private static StatusCode AbortKind(ServerCallContext context) =>
        context.Deadline != DateTime.MaxValue && context.Deadline - s_deadlineAllowance <= DateTime.UtcNow
            ? StatusCode.DeadlineExceeded
            : StatusCode.Cancelled;

    private static bool IsTransportFailure(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is IOException)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The gRPC name of a status code, as clients and Prometheus labels spell it (RESOURCE_EXHAUSTED).</summary>
    public static string Name(StatusCode code) =>
        code switch
        {
            StatusCode.OK => "OK",
            StatusCode.Cancelled => "CANCELLED",
            StatusCode.Unknown => "UNKNOWN",
            StatusCode.InvalidArgument => "INVALID_ARGUMENT",
            StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
            StatusCode.NotFound => "NOT_FOUND",
            StatusCode.AlreadyExists => "ALREADY_EXISTS",
            StatusCode.PermissionDenied => "PERMISSION_DENIED",
            StatusCode.Unauthenticated => "UNAUTHENTICATED",
            StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
            StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
            StatusCode.Aborted => "ABORTED",
            StatusCode.OutOfRange => "OUT_OF_RANGE",
            StatusCode.Unimplemented => "UNIMPLEMENTED",
            StatusCode.Internal => "INTERNAL",
            StatusCode.Unavailable => "UNAVAILABLE",
            StatusCode.DataLoss => "DATA_LOSS",
            _ => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
}
