using Grpc.Core;
using Grpc.Health.V1;

namespace RealtimeSer.Server;

/// <summary>
/// The standard grpc.health.v1 service (Grpc.HealthCheck's definition): the whole server ("") and the
/// recognizer report the same status, straight from <see cref="ServerLifetime"/>, so NOT_SERVING shows the
/// moment shutdown begins (a published health-check cache would lag behind it).
/// </summary>
internal sealed class HealthService(ServerLifetime lifetime) : Health.HealthBase
{
    public const string CheckPath = "/grpc.health.v1.Health/Check";
    public const string WatchPath = "/grpc.health.v1.Health/Watch";
    public const string RecognizerService = "realtime_ser.v1.EmotionRecognizer";

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context) =>
        Known(request.Service)
            ? Task.FromResult(new HealthCheckResponse { Status = lifetime.Status })
            : throw new RpcException(
                new Status(StatusCode.NotFound, $"Unknown service '{request.Service}'.")
            );

    public override async Task Watch(
        HealthCheckRequest request,
        IServerStreamWriter<HealthCheckResponse> responseStream,
        ServerCallContext context
    )
    {
        if (!Known(request.Service))
        {
            await responseStream.WriteAsync(
                new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.ServiceUnknown }
            );
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return;
        }
        while (true)
        {
            var changed = lifetime.Changed;
            await responseStream.WriteAsync(new HealthCheckResponse { Status = lifetime.Status });
            if (lifetime.IsStopping)
            {
                // Watchers have seen NOT_SERVING; ending lets the server drain instead of waiting on them.
                throw new RpcException(new Status(StatusCode.Unavailable, "The server is shutting down."));
            }
            await changed.WaitAsync(context.CancellationToken);
        }
    }

    private static bool Known(string service) => service.Length == 0 || service == RecognizerService;
}
