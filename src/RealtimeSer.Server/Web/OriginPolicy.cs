using System.Net;
using Microsoft.AspNetCore.Http;

namespace RealtimeSer.Server;

/// <summary>
/// Who may use the browser endpoints. A browser always names the page's origin on WebSocket handshakes and
/// cross-site requests; only this server's own pages and the configured <see cref="ServerOptions.AllowedOrigins"/>
/// pass, so another site open in the same browser cannot stream, upload or watch. Requests without an Origin
/// come from programs, not pages, and pass (they authenticate like gRPC clients). A server bound to loopback
/// also insists on a loopback Host name, which defeats DNS rebinding (a hostile name resolving to 127.0.0.1).
/// </summary>
internal sealed class OriginPolicy(ServerOptions options)
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
            return $"This server listens on localhost only; open it as {request.Scheme}://localhost:{request.Host.Port}/ (Host '{request.Host.Host}' refused).";
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
        return $"Cross-site request from {origin} refused: only pages served by this server (or listed in Server:AllowedOrigins) may use it.";
    }

    private static bool IsLoopbackBinding(string host) =>
        host is "localhost" or "127.0.0.1" or "::1" or "[::1]";

    private static bool IsLoopbackName(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
}
