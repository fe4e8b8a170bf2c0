using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// Outermost interceptor: counts every finished call by method and the status it really ended with
/// (<see cref="CallStatus"/>), refusals by the admission rules and client cancellations included, and logs
/// cancelled and timed-out calls other than streams (a stream's end is logged with its own figures).
/// </summary>
internal sealed class CallOutcomeInterceptor(ServerMetrics metrics, ILoggerFactory loggers)
    : AroundCallInterceptor
{
    private readonly ILogger _logger = loggers.CreateLogger("RealtimeSer.Server");

    protected override async Task AroundAsync(ServerCallContext context, Func<Task> call)
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
            context.GetHttpContext().Items[UnhandledCallOutcomes.CountedMark] = true;
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
