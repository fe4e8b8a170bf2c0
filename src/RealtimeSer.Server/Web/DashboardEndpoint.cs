using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace RealtimeSer.Server;

/// <summary>
/// The dashboard's data: <c>GET /v1/streams</c> for one snapshot, <c>GET /v1/streams/live</c> for server push
/// as Server-Sent Events (a snapshot at once, whenever a stream opens or closes, and every
/// <see cref="DashboardOptions.PushIntervalSeconds"/>). The page reads the feed with fetch, not EventSource, so it
/// can send the API key in the authorization header like every other client.
/// </summary>
internal sealed class DashboardEndpoint(
    StreamRegistry registry,
    ServerLifetime lifetime,
    StreamAdmission admission,
    TimeSpan deliveryTimeout
)
{
    public const string SnapshotPath = "/v1/streams";
    public const string LivePath = "/v1/streams/live";

    private readonly SubscriberLimits _subscribers = new(
        registry.Options.MaxSubscribers,
        registry.Options.MaxSubscribersPerKey
    );
    private readonly SnapshotFrames _frames = new(registry);

    public async Task SnapshotAsync(HttpContext context)
    {
        if (await RefuseAsync(context))
        {
            return;
        }
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(
            context.Response.Body,
            registry.Snapshot(),
            WebJsonContext.Default.DashboardSnapshot,
            context.RequestAborted
        );
    }

    public async Task LiveAsync(HttpContext context)
    {
        int key;
        try
        {
            key = admission.AuthenticateCall(AccessPolicy.Authorization(context.Request));
        }
        catch (RpcException e)
        {
            await WebErrors.WriteHttpAsync(context, e.Status);
            return;
        }
        using var subscription = _subscribers.TryEnter(key);
        if (subscription is null)
        {
            await WebErrors.WriteHttpAsync(
                context,
                admission
                    .Refused(
                        new Status(
                            StatusCode.ResourceExhausted,
                            $"Too many live dashboard feeds: this server serves {registry.Options.MaxSubscribers} at once and "
                                + $"{registry.Options.MaxSubscribersPerKey} per API key (Server:Dashboard:MaxSubscribers, "
                                + "MaxSubscribersPerKey); close another dashboard or poll /v1/streams."
                        )
                    )
                    .Status
            );
            return;
        }
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        // Proxies such as nginx would otherwise hold the pushes back until their buffer fills.
        context.Response.Headers["X-Accel-Buffering"] = "no";
        // The feed ends with shutdown, or a dashboard left open would hold the server past its grace period.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted,
            lifetime.HardStop
        );
        var token = cancel.Token;
        var interval = TimeSpan.FromSeconds(registry.Options.PushIntervalSeconds);
        try
        {
            while (!token.IsCancellationRequested && !lifetime.IsStopping)
            {
                var changed = registry.Changed;
                // Every feed sends the latest frame when it can: one that is slow to read skips the stale ones,
                // and all of them share one serialised copy.
                await DeliverAsync(context, _frames.Latest(interval), token);
                await Task.WhenAny(changed, Task.Delay(interval, token), lifetime.Changed);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The dashboard closed, or the server stops: either way the feed simply ends.
        }
        catch (TimeoutException)
        {
            // A reader that takes nothing for the delivery bound loses its feed (and its place among the subscribers).
            context.Abort();
        }
    }

    /// <summary>Writes one frame, or throws <see cref="TimeoutException"/> when the reader has taken nothing for the bound.</summary>
    private async Task DeliverAsync(HttpContext context, ReadOnlyMemory<byte> frame, CancellationToken token)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        if (deliveryTimeout > TimeSpan.Zero)
        {
            deadline.CancelAfter(deliveryTimeout);
        }
        try
        {
            await context.Response.Body.WriteAsync(frame, deadline.Token);
            await context.Response.Body.FlushAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            throw new TimeoutException("the dashboard feed's reader took nothing within the delivery bound");
        }
    }

    private async Task<bool> RefuseAsync(HttpContext context)
    {
        try
        {
            _ = admission.AuthenticateCall(AccessPolicy.Authorization(context.Request));
            return false;
        }
        catch (RpcException e)
        {
            await WebErrors.WriteHttpAsync(context, e.Status);
            return true;
        }
    }
}

/// <summary>
/// The live feed's current frame (<c>event: snapshot</c>), serialised once for every subscriber and made
/// again only when a stream opened or closed, or the push interval has passed.
/// </summary>
internal sealed class SnapshotFrames(StreamRegistry registry)
{
    private readonly Lock _lock = new();
    private byte[] _frame = [];
    private Task? _changedAtBuild;
    private long _builtAt;

    public ReadOnlyMemory<byte> Latest(TimeSpan interval)
    {
        lock (_lock)
        {
            var fresh =
                _changedAtBuild is { IsCompleted: false }
                && Stopwatch.GetElapsedTime(_builtAt) < interval * 0.5;
            if (!fresh)
            {
                _changedAtBuild = registry.Changed;
                _builtAt = Stopwatch.GetTimestamp();
                var json = JsonSerializer.SerializeToUtf8Bytes(
                    registry.Snapshot(),
                    WebJsonContext.Default.DashboardSnapshot
                );
                _frame = [.. "event: snapshot\ndata: "u8, .. json, .. "\n\n"u8];
            }
            return _frame;
        }
    }
}

/// <summary>How many live feeds the server and each key hold; a place frees on dispose.</summary>
internal sealed class SubscriberLimits(int total, int perKey)
{
    private readonly Dictionary<int, int> _perKey = [];
    private int _count;

    /// <summary>A place for a feed of <paramref name="key"/> (-1: keys are off), or null at a limit.</summary>
    public IDisposable? TryEnter(int key)
    {
        lock (_perKey)
        {
            var held = _perKey.GetValueOrDefault(key);
            if (_count >= total || (key >= 0 && held >= perKey))
            {
                return null;
            }
            _perKey[key] = held + 1;
            _count++;
        }
        return new Place(this, key);
    }

    private sealed class Place(SubscriberLimits owner, int key) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            lock (owner._perKey)
            {
                owner._count--;
                if (--owner._perKey[key] == 0)
                {
                    owner._perKey.Remove(key);
                }
            }
        }
    }
}
