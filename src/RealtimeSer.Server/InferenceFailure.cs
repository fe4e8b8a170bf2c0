using Microsoft.Extensions.Logging;
using RealtimeSer.Grpc;

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

    public static GrpcException Stream() => new(GrpcStatusCode.Internal, StreamMessage);

    public static GrpcException Recording() => new(GrpcStatusCode.Internal, RecordingMessage);

    /// <summary>Awaits a whole recording's event collector; an unexpected failure is logged and reported as Internal.</summary>
    public static async Task AwaitRecordingAsync(Task collect, ILogger logger)
    {
        try
        {
            await collect;
        }
        catch (Exception e) when (e is not GrpcException and not OperationCanceledException)
        {
            ServerLog.Unexpected(logger, e);
            throw Recording();
        }
    }
}
