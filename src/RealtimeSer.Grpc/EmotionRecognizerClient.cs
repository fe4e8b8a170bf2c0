using Grpc.Health.V1;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Grpc;

/// <summary>Typed calls of realtime_ser.v1.EmotionRecognizer and grpc.health.v1.Health over a <see cref="GrpcClient"/>.</summary>
public sealed class EmotionRecognizerClient(GrpcClient client)
{
    public const string StreamingRecognizeMethod = "/realtime_ser.v1.EmotionRecognizer/StreamingRecognize";
    public const string RecognizeMethod = "/realtime_ser.v1.EmotionRecognizer/Recognize";
    public const string ListModelsMethod = "/realtime_ser.v1.EmotionRecognizer/ListModels";
    public const string HealthCheckMethod = "/grpc.health.v1.Health/Check";

    public GrpcClient Channel => client;

    /// <summary>Opens a stream and sends the config; then write audio_content requests and read responses.</summary>
    public async Task<GrpcDuplexCall<StreamingRecognizeResponse>> StreamingRecognizeAsync(
        RecognitionConfig config,
        CancellationToken cancellationToken = default
    )
    {
        var call = client.StartDuplex(
            StreamingRecognizeMethod,
            StreamingRecognizeResponse.Parser,
            cancellationToken: cancellationToken
        );
        await call.WriteAsync(new StreamingRecognizeRequest { Config = config });
        return call;
    }

    public Task<RecognizeResponse> RecognizeAsync(
        RecognizeRequest request,
        CancellationToken cancellationToken = default
    ) =>
        client.UnaryAsync(
            RecognizeMethod,
            request,
            RecognizeResponse.Parser,
            cancellationToken: cancellationToken
        );

    public Task<ListModelsResponse> ListModelsAsync(CancellationToken cancellationToken = default) =>
        client.UnaryAsync(
            ListModelsMethod,
            new ListModelsRequest(),
            ListModelsResponse.Parser,
            cancellationToken: cancellationToken
        );

    public Task<HealthCheckResponse> CheckHealthAsync(
        string service = "",
        CancellationToken cancellationToken = default
    ) =>
        client.UnaryAsync(
            HealthCheckMethod,
            new HealthCheckRequest { Service = service },
            HealthCheckResponse.Parser,
            cancellationToken: cancellationToken
        );
}
