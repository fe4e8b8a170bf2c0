using Grpc.Health.V1;

namespace RealtimeSer.Server;

/// <summary>
/// Serving state: health flips to NOT_SERVING as shutdown begins and new streams are refused; live streams
/// go on for the grace period, then <see cref="HardStop"/> ends them with UNAVAILABLE.
/// </summary>
public sealed class ServerLifetime : IDisposable
{
    private readonly CancellationTokenSource _hardStop = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopping;

    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    public CancellationToken HardStop => _hardStop.Token;

    public HealthCheckResponse.Types.ServingStatus Status =>
        IsStopping
            ? HealthCheckResponse.Types.ServingStatus.NotServing
            : HealthCheckResponse.Types.ServingStatus.Serving;

    /// <summary>Completes at the next status change.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    public void BeginShutdown(TimeSpan grace)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return;
        }
        Interlocked
            .Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously))
            .TrySetResult();
        _hardStop.CancelAfter(grace);
    }

    public void Dispose() => _hardStop.Dispose();
}
