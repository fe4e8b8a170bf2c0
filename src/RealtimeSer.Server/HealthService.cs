using Grpc.Health.V1;
using RealtimeSer.Grpc;

namespace RealtimeSer.Server;

/// <summary>grpc.health.v1: the whole server ("") and the recognizer service report the same status.</summary>
internal sealed class HealthService(ServerLifetime lifetime)
{
    public const string CheckPath = "/grpc.health.v1.Health/Check";
    public const string WatchPath = "/grpc.health.v1.Health/Watch";
    public const string RecognizerService = "realtime_ser.v1.EmotionRecognizer";

    public async Task CheckAsync(GrpcServerCall call)
    {
        var request = await ReadRequestAsync(call);
        if (!Known(request.Service))
        {
            throw new GrpcException(GrpcStatusCode.NotFound, $"Unknown service '{request.Service}'.");
        }
        await call.WriteAsync(new HealthCheckResponse { Status = lifetime.Status });
    }

    public async Task WatchAsync(GrpcServerCall call)
    {
        var request = await ReadRequestAsync(call);
        if (!Known(request.Service))
        {
            await call.WriteAsync(
                new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.ServiceUnknown }
            );
            await Task.Delay(Timeout.Infinite, call.CancellationToken);
            return;
        }
        while (true)
        {
            var changed = lifetime.Changed;
            await call.WriteAsync(new HealthCheckResponse { Status = lifetime.Status });
            if (lifetime.IsStopping)
            {
                // Watchers have seen NOT_SERVING; ending lets the server drain instead of waiting on them.
                throw new GrpcException(GrpcStatusCode.Unavailable, "The server is shutting down.");
            }
            await changed.WaitAsync(call.CancellationToken);
        }
    }

    private static async Task<HealthCheckRequest> ReadRequestAsync(GrpcServerCall call) =>
        await call.ReadAsync(HealthCheckRequest.Parser)
        ?? throw new GrpcException(GrpcStatusCode.Internal, "A health request message is required.");

    private static bool Known(string service) => service.Length == 0 || service == RecognizerService;
}
