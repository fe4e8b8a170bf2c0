using System.Net;

namespace RealtimeSer.Grpc;

/// <summary>gRPC status codes (grpc/grpc doc/statuscodes.md).</summary>
public enum GrpcStatusCode
{
    OK = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// <summary>A call's outcome: code and a human-readable detail.</summary>
public readonly record struct GrpcStatus(GrpcStatusCode Code, string Detail = "")
{
    public static GrpcStatus Ok { get; } = new(GrpcStatusCode.OK);

    public override string ToString() => Detail.Length == 0 ? $"{Code}" : $"{Code}: {Detail}";

    /// <summary>
    /// The status for a response that carried no grpc-status: from the HTTP status, as the spec's
    /// "HTTP to gRPC status code mapping" says.
    /// </summary>
    public static GrpcStatus FromHttpStatus(HttpStatusCode status) =>
        status switch
        {
            HttpStatusCode.BadRequest => new(GrpcStatusCode.Internal, "HTTP 400"),
            HttpStatusCode.Unauthorized => new(GrpcStatusCode.Unauthenticated, "HTTP 401"),
            HttpStatusCode.Forbidden => new(GrpcStatusCode.PermissionDenied, "HTTP 403"),
            HttpStatusCode.NotFound => new(GrpcStatusCode.Unimplemented, "HTTP 404"),
            HttpStatusCode.TooManyRequests
            or HttpStatusCode.BadGateway
            or HttpStatusCode.ServiceUnavailable
            or HttpStatusCode.GatewayTimeout => new(GrpcStatusCode.Unavailable, $"HTTP {(int)status}"),
            _ => new(GrpcStatusCode.Unknown, $"HTTP {(int)status}"),
        };

    /// <summary>The status for an exception escaping a handler; only <see cref="GrpcException"/> keeps its detail.</summary>
    public static GrpcStatus FromException(Exception error, bool deadlineExpired = false) =>
        error switch
        {
            GrpcException g => g.Status,
            OperationCanceledException when deadlineExpired => new(
                GrpcStatusCode.DeadlineExceeded,
                "Deadline exceeded."
            ),
            OperationCanceledException => new(GrpcStatusCode.Cancelled, "Call cancelled."),
            // Other exceptions may carry internals; callers get a generic detail.
            _ => new(GrpcStatusCode.Internal, "Internal server error."),
        };
}

/// <summary>Ends a call with a given status; the message is sent to the peer.</summary>
public sealed class GrpcException : Exception
{
    public GrpcException(GrpcStatus status)
        : base(status.ToString()) => Status = status;

    public GrpcException(GrpcStatusCode code, string detail)
        : this(new GrpcStatus(code, detail)) { }

    public GrpcException()
        : this(GrpcStatusCode.Unknown, "") { }

    public GrpcException(string message)
        : this(GrpcStatusCode.Unknown, message) { }

    public GrpcException(string message, Exception innerException)
        : base(message, innerException) => Status = new(GrpcStatusCode.Unknown, message);

    public GrpcStatus Status { get; }

    public GrpcStatusCode Code => Status.Code;
}
