using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>
/// The status a call really ended with, for logs and the calls counter. A call whose client went away or whose
/// deadline passed ended CANCELLED or DEADLINE_EXCEEDED whatever surfaced in the handler: a read that failed
/// with an I/O error (INTERNAL) or a request stream that looked half-closed (OK) are only how the abort showed.
/// </summary>
internal static class CallStatus
{
    public static StatusCode Of(Exception? error, ServerCallContext context) =>
        Aborted(context)
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

    /// <summary>CANCELLED or DEADLINE_EXCEEDED once the client cancelled or the deadline passed, else null.</summary>
    public static StatusCode? Aborted(ServerCallContext context) =>
        !context.CancellationToken.IsCancellationRequested ? null
        : context.Deadline != DateTime.MaxValue && context.Deadline - s_deadlineAllowance <= DateTime.UtcNow
            ? StatusCode.DeadlineExceeded
        : StatusCode.Cancelled;

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
