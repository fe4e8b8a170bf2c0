using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>The status a call ends with when its handler throws (for logs; the wire status is the library's).</summary>
internal static class CallStatus
{
    public static StatusCode Of(Exception error, ServerCallContext context) =>
        error switch
        {
            RpcException rpc => rpc.StatusCode,
            OperationCanceledException when context.Deadline <= DateTime.UtcNow =>
                StatusCode.DeadlineExceeded,
            OperationCanceledException => StatusCode.Cancelled,
            _ => StatusCode.Internal,
        };
}
