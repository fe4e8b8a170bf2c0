using System.Collections.Frozen;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace RealtimeSer.Server;

/// <summary>
/// The pages, embedded in this assembly from Web/wwwroot (no build step, no CDN, nothing to deploy beside
/// the program). Every response carries a strict Content-Security-Policy: scripts, styles and connections
/// from this origin only.
/// </summary>
internal static class StaticAssets
{
    private const string Prefix = "web/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, byte[]> Files = Load();

    public static IEnumerable<string> Names => Files.Keys;

    private static FrozenDictionary<string, byte[]> Load()
    {
        var assembly = typeof(StaticAssets).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[resource[Prefix.Length..]] = copy.ToArray();
        }
        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Serves <paramref name="name"/> (a path under wwwroot), or 404.</summary>
    public static async Task ServeAsync(HttpContext context, string name)
    {
        var response = context.Response;
        if (!Files.TryGetValue(name, out var bytes))
        {
            // The name asked for is not repeated: an error page must not reflect what a link put in it.
            await WebErrors.WriteHttpAsync(
                context,
                new Status(StatusCode.NotFound, "No such page or asset: the pages are / and /dashboard.")
            );
            return;
        }
        response.ContentType = ContentTypes.GetValueOrDefault(
            System.IO.Path.GetExtension(name),
            "application/octet-stream"
        );
        response.Headers.ContentSecurityPolicy =
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'none'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.CacheControl = "no-cache";
        response.ContentLength = bytes.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }
        await response.Body.WriteAsync(bytes, context.RequestAborted);
    }
}
