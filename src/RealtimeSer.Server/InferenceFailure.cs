using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>
/// A failed model run as every transport reports it (gRPC streams and unary calls, the browser's WebSocket and
/// uploads): one wording per kind of call; the model's own error is logged where it is caught, never sent.
/// </summary>
internal static class InferenceFailure
{
    public const string StreamMessage =
        "Emotion inference failed for this stream; retry, or report it if it persists.";

    public const string RecordingMessage = "Emotion inference failed for this recording.";

    public static RpcException Stream() => new(new Status(StatusCode.Internal, StreamMessage));

    public static RpcException Recording() => new(new Status(StatusCode.Internal, RecordingMessage));
}
