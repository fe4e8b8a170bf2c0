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
    OriginPolicy origins
)
{
    public const string SnapshotPath = "/v1/streams";
    public const string LivePath = "/v1/streams/live";

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
        if (await RefuseAsync(context))
        {
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
                var json = JsonSerializer.SerializeToUtf8Bytes(
                    registry.Snapshot(),
                    WebJsonContext.Default.DashboardSnapshot
                );
                await context.Response.Body.WriteAsync("event: snapshot\ndata: "u8.ToArray(), token);
                await context.Response.Body.WriteAsync(json, token);
                await context.Response.Body.WriteAsync("\n\n"u8.ToArray(), token);
                await context.Response.Body.FlushAsync(token);
                await Task.WhenAny(changed, Task.Delay(interval, token), lifetime.Changed);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The dashboard closed, or the server stops: either way the feed simply ends.
        }
    }

    private async Task<bool> RefuseAsync(HttpContext context)
    {
        try
        {
            if (origins.Check(context.Request) is { } refused)
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, refused));
            }
            _ = admission.AuthenticateCall(context.Request.Headers.Authorization.ToString());
            return false;
        }
        catch (RpcException e)
        {
            await WebErrors.WriteHttpAsync(context, e.Status);
            return true;
        }
    }
}
