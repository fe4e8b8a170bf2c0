using System.Globalization;
using Grpc.Core;
using RealtimeSer.Grpc;

namespace RealtimeSer.Cli.Remote;

/// <summary>What the <c>--server</c> commands say about their connection, on stderr.</summary>
internal static class ConnectionMessages
{
    /// <summary>
    /// A failed call: why, and for a connection that could not be made, what to check (after
    /// <paramref name="attempts"/> attempts of <c>--reconnect</c>, when there were any).
    /// </summary>
    public static string Failure(SerChannel channel, RpcException error, int attempts = 0)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(error);
        if (SerChannel.ConnectionFailure(error.Status) is null)
        {
            return $"ser: {channel.Explain(error)}";
        }
        var gaveUp = attempts > 0 ? $"; gave up after {attempts} attempts" : "";
        return $"ser: {channel.Explain(error)}{gaveUp}: is a `ser serve` running at {channel.Address.OriginalString}?";
    }

    /// <summary>
    /// Whether the server answers (one ListModels call, retried by the channel's policy while UNAVAILABLE,
    /// at most 10 s): null when it does, else what <see cref="Failure"/> says. Run before any work, so that
    /// an unreachable server or a refused key is one clear line, not a failure per file.
    /// </summary>
    public static async Task<string?> CheckAsync(SerChannel channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await channel.Recognizer.ListModelsAsync(
                new Grpc.V1.ListModelsRequest(),
                cancellationToken: timeout.Token
            );
            return null;
        }
        catch (RpcException e)
        {
            return Failure(channel, e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"ser: no answer from {channel.Address} within 10 s";
        }
    }

    /// <summary>"retrying in 250 ms (attempt 1 of 5)", before each wait of <c>--reconnect</c>.</summary>
    public static void Retrying(SerChannel channel, ReconnectEvent r) =>
        Console.Error.WriteLine(
            string.Create(
                CultureInfo.InvariantCulture,
                $"ser: {(r.IsFirstConnection ? "" : "stream lost: ")}{channel.Explain(r.Cause)}; retrying in {r.Delay.TotalMilliseconds:F0} ms (attempt {r.Attempt} of {r.MaxAttempts})"
            )
        );

    /// <summary>Once a new call of <c>--reconnect</c> has reached a server.</summary>
    public static void Reconnected(ReconnectEvent r) =>
        Console.Error.WriteLine(
            r.IsFirstConnection
                ? string.Create(CultureInfo.InvariantCulture, $"ser: connected (attempt {r.Attempt})")
                : string.Create(
                    CultureInfo.InvariantCulture,
                    $"ser: reconnected (attempt {r.Attempt}), continuing at {r.OffsetSeconds:F2} s"
                )
        );
}
