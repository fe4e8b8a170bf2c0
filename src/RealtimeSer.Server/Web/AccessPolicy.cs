using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace RealtimeSer.Server;

/// <summary>
/// One Host and Origin rule for every request a browser could send: the pages and their assets, the browser
/// API (WebSocket, uploads, dashboard feed, models, info), gRPC-Web and /metrics. Native gRPC (HTTP/2,
/// <c>application/grpc</c>) cannot come from a page, so only the key rule applies to it.
/// <list type="bullet">
/// <item>Host: a server bound to loopback answers only loopback names, which defeats DNS rebinding (a hostile
/// name resolving to 127.0.0.1 would otherwise make the attacker's page same-origin with this server).</item>
/// <item>Origin: a browser names the page's origin on WebSocket handshakes and cross-site requests; only this
/// server's own origin and <see cref="ServerOptions.AllowedOrigins"/> pass, so another site open in the same
/// browser cannot stream, upload or watch. Requests without an Origin come from programs and pass.</item>
/// </list>
/// The key rule is the endpoints' own (<see cref="StreamAdmission"/>); docs/security.md tabulates all three.
/// </summary>
internal sealed class AccessPolicy(ServerOptions options)
{
    private readonly HashSet<string> _allowed = new(
        options.AllowedOrigins.Select(o => o.TrimEnd('/')),
        StringComparer.OrdinalIgnoreCase
    );

    /// <summary>Null when the request may go on, else why not (for a 403).</summary>
    public string? Check(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (IsLoopbackBinding(options.Host) && !IsLoopbackName(request.Host.Host))
        {
            return $"This server listens on localhost only; open it as {request.Scheme}://localhost:{request.Host.Port}/ (Host '{Printable(request.Host.Host)}' refused).";
        }
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return null;
        }
        var own = $"{request.Scheme}://{request.Host.Value}";
        if (string.Equals(origin, own, StringComparison.OrdinalIgnoreCase) || _allowed.Contains(origin))
        {
            return null;
        }
        return $"Cross-site request from {Printable(origin)} refused: only pages served by this server (or listed in Server:AllowedOrigins) may use it.";
    }

    /// <summary>
    /// The rule as middleware, first in the pipeline. Every answer that is not native gRPC also says
    /// <c>nosniff</c>, so no browser takes an error text for a script or a page.
    /// </summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (IsNativeGrpc(context.Request))
        {
            await next(context);
            return;
        }
        context.Response.Headers.XContentTypeOptions = "nosniff";
        if (Check(context.Request) is { } refused)
        {
            await WebErrors.WriteHttpAsync(context, new Status(StatusCode.PermissionDenied, refused));
            return;
        }
        await next(context);
    }

    /// <summary>The API key a browser-side request presents: its <c>authorization</c> header.</summary>
    public static string Authorization(HttpRequest request) => request.Headers.Authorization.ToString();

    public static bool IsNativeGrpc(HttpRequest request) =>
        request.ContentType is { } type
        && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
        && !type.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase);

    private static bool IsLoopbackBinding(string host) =>
        host is "localhost" or "127.0.0.1" or "::1" or "[::1]";

    private static bool IsLoopbackName(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>A header value as it may appear in a message: short, without control characters.</summary>
    private static string Printable(string value)
    {
        var text = new string([.. value.Where(c => !char.IsControl(c)).Take(100)]);
        return value.Length > 100 ? text + "…" : text;
    }
}
