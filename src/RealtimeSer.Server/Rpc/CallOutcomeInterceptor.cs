using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// Outermost interceptor: counts every finished call by method and the status it really ended with
/// (<see cref="CallStatus"/>), refusals by the admission rules and client cancellations included, and logs
/// cancelled and timed-out calls other than streams (a stream's end is logged with its own figures).
/// </summary>
internal sealed class CallOutcomeInterceptor(ServerMetrics metrics, ILoggerFactory loggers) : Interceptor
{
    private readonly ILogger _logger = loggers.CreateLogger("RealtimeSer.Server");

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation
    )
    {
        TResponse? response = null;
        await ObserveAsync(context, async () => response = await continuation(request, context));
        return response!;
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation
    ) => ObserveAsync(context, () => continuation(request, responseStream, context));

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation
    ) => ObserveAsync(context, () => continuation(requestStream, responseStream, context));

    private async Task ObserveAsync(ServerCallContext context, Func<Task> call)
    {
        Exception? error = null;
        try
        {
            await call();
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            var code = CallStatus.Of(error, context);
            metrics.CallFinished(context.Method, code);
            if (
                code is StatusCode.Cancelled or StatusCode.DeadlineExceeded
                && context.Method != EmotionService.StreamingRecognizePath
            )
            {
                ServerLog.CallAborted(_logger, context.Method, CallStatus.Name(code));
            }
        }
    }
}
