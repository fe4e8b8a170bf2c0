using System.Globalization;
using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>
/// The bound on a stream's client taking its events (<see cref="ServerOptions.EventDeliveryTimeoutSeconds"/>),
/// the same for every transport. A client that sends audio but never reads fills the transport's buffers;
/// the next write then waits for as long as the connection lives, with the stream's slot held all along.
/// </summary>
internal sealed class EventDelivery(ServerOptions options, ServerMetrics metrics)
{
    public TimeSpan Timeout { get; } = TimeSpan.FromSeconds(options.EventDeliveryTimeoutSeconds);

    /// <summary>
    /// Awaits <paramref name="write"/>; when it has not completed within the bound, counts the stream as
    /// unread, calls <paramref name="abort"/> (which must make the write end) and throws DEADLINE_EXCEEDED.
    /// </summary>
    public async Task WithinBoundAsync(Task write, string transport, Action abort)
    {
        if (write.IsCompleted || Timeout <= TimeSpan.Zero)
        {
            await write;
            return;
        }
        try
        {
            // WaitAsync drops its timer as soon as the write completes: no 30 s timer outlives each send.
            await write.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            metrics.StreamUnread(transport);
            abort();
            // The aborted write fails; its exception is this one's cause, not news.
            _ = write.ContinueWith(
                t => t.Exception,
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted,
                TaskScheduler.Default
            );
            throw Unread();
        }
    }

    /// <summary>
    /// Set in a gRPC call's <see cref="ServerCallContext.UserState"/> when the server ended it at the bound: the
    /// abort also cancels the call, which would otherwise be counted as the client's CANCELLED.
    /// </summary>
    public const string UnreadMark = "ser.unread";

    public RpcException Unread() =>
        new(
            new Status(
                StatusCode.DeadlineExceeded,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"The client took no event for {Timeout.TotalSeconds:0.###} s (Server:EventDeliveryTimeoutSeconds): the server ended the stream. Read the events as they come."
                )
            )
        );
}
