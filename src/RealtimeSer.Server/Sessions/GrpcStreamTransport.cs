using Grpc.Core;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc.V1;
using CoreSpeech = RealtimeSer.Core.Pipeline.SpeechEvent;

namespace RealtimeSer.Server;

/// <summary><c>StreamingRecognize</c>'s wire for a <see cref="StreamSession"/>.</summary>
internal sealed class GrpcStreamTransport(
    IAsyncStreamReader<StreamingRecognizeRequest> requests,
    IServerStreamWriter<StreamingRecognizeResponse> responses,
    ServerCallContext context
) : IStreamTransport
{
    public string Source => StreamRegistry.GrpcSource;

    public async ValueTask<ReadOnlyMemory<byte>?> ReadAudioAsync(CancellationToken token)
    {
        if (await RequestReader.NextAsync(requests, token) is not { } request)
        {
            return null;
        }
        if (request.RequestCase != StreamingRecognizeRequest.RequestOneofCase.AudioContent)
        {
            throw new RpcException(
                new Status(
                    StatusCode.InvalidArgument,
                    "Only the first request may carry `config`; later ones must carry only audio_content."
                )
            );
        }
        return request.AudioContent.Memory;
    }

    public Task SendReadyAsync(EngineStream stream, StreamSetup setup, CancellationToken token) =>
        Task.CompletedTask;

    public Task SendEventAsync(EngineEvent e, CancellationToken token) =>
        e switch
        {
            CoreSpeech s => WriteAsync(new() { SpeechEvent = ResponseMapper.ToWire(s) }),
            EmotionEvent r => WriteAsync(new() { Result = ResponseMapper.ToWire(r) }),
            _ => Task.CompletedTask,
        };

    public Task SendStatsAsync(EngineStream stream, TimeSpan elapsed, bool final, CancellationToken token) =>
        WriteAsync(new() { StreamStats = ResponseMapper.Stats(stream, elapsed) });

    public Task EndAsync(CancellationToken token) => Task.CompletedTask;

    /// <summary>
    /// Marks the call as ended by the server at the delivery bound (its abort also cancels the call, which
    /// would otherwise count as the client's CANCELLED), then aborts it.
    /// </summary>
    public void Abort()
    {
        context.UserState[EventDelivery.UnreadMark] = true;
        context.GetHttpContext().Abort();
    }

    public bool IsTransportFailure(Exception e) => false;

    public string StatusName(Exception? error) => CallStatus.Name(CallStatus.Of(error, context));

    /// <summary>
    /// A write is never cancelled: Grpc.AspNetCore answers a write's cancellation by resetting the HTTP/2 stream,
    /// which throws away the status and stats still to come (a healthy stream stopped at its end, or at the
    /// shutdown grace, would end CANCELLED). A write ends by itself: it completes, or fails once the call is
    /// aborted (the client gone, the delivery bound, Kestrel's shutdown timeout).
    /// </summary>
    private Task WriteAsync(StreamingRecognizeResponse message) =>
        responses.WriteAsync(message, CancellationToken.None);
}
