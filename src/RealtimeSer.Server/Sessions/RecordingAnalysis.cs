using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>
/// A whole recording sent at once (the unary <c>Recognize</c> call, a recording dropped on the page): a stream
/// in wait mode with finals only, so that it is complete and never shed, fed by <see cref="RecordingRun"/>.
/// </summary>
internal static class RecordingAnalysis
{
    public sealed record Result(EngineStream Stream, TimeSpan Elapsed);

    /// <summary>
    /// Runs the recording; <paramref name="onEvent"/> sees every event in order. A model failure is logged and
    /// reported as INTERNAL with the recording's generic message.
    /// </summary>
    public static async Task<Result> RunAsync(
        EmotionEngine engine,
        string id,
        StreamFormat format,
        StreamOptions options,
        Func<Memory<float>, CancellationToken, ValueTask<int>> read,
        Action<EngineEvent> onEvent,
        ILogger logger,
        CancellationToken token
    )
    {
        var started = Stopwatch.GetTimestamp();
        var stream = engine.OpenStream(id, format, ForWholeRecording(options));
        try
        {
            await RecordingRun.RunAsync(
                stream,
                read,
                e =>
                {
                    if (e is StreamFailedEvent)
                    {
                        throw InferenceFailure.Recording();
                    }
                    onEvent(e);
                    return ValueTask.CompletedTask;
                },
                token
            );
        }
        catch (Exception e)
            when (e is not RpcException and not OperationCanceledException and not Audio.AudioFormatException)
        {
            ServerLog.Unexpected(logger, e);
            throw InferenceFailure.Recording();
        }
        finally
        {
            await stream.DisposeAsync();
        }
        return new Result(stream, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Finals only, in wait mode: a whole recording must be complete, and its sender can always wait.</summary>
    private static StreamOptions ForWholeRecording(StreamOptions options) =>
        options with
        {
            InterimResults = false,
            Recorded = true,
        };
}
