using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// A failed model run as every transport reports it (gRPC streams and unary calls, the browser's WebSocket and
/// uploads): one wording per kind of call, and the model's own error logged but kept off the wire.
/// </summary>
internal static class InferenceFailure
{
    public const string StreamMessage =
        "Emotion inference failed for this stream; retry, or report it if it persists.";

    public const string RecordingMessage = "Emotion inference failed for this recording.";

    public static RpcException Stream() => new(new Status(StatusCode.Internal, StreamMessage));

    public static RpcException Recording() => new(new Status(StatusCode.Internal, RecordingMessage));

    /// <summary>Awaits a whole recording's event collector; an unexpected failure is logged and reported as Internal.</summary>
    public static async Task AwaitRecordingAsync(Task collect, ILogger logger)
    {
        try
        {
            await collect;
        }
        catch (Exception e) when (e is not RpcException and not OperationCanceledException)
        {
            ServerLog.Unexpected(logger, e);
            throw Recording();
        }
    }
}
