using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace RealtimeSer.Server;

/// <summary>
/// Refuses a gRPC call whose grpc-timeout header breaks the spec (1 to 8 digits and a unit) with INTERNAL, as
/// grpc-go and grpc-core do; Grpc.AspNetCore would ignore it and run the call with no deadline at all, which
/// a client that meant one would never notice.
/// </summary>
internal static partial class GrpcHeaderCheck
{
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (
            context.Request.Headers.TryGetValue("grpc-timeout", out var timeout)
            && !ValidTimeout().IsMatch(timeout.ToString())
        )
        {
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = "13";
            context.Response.Headers["grpc-message"] = "Malformed grpc-timeout header.";
            await context.Response.CompleteAsync();
            return;
        }
        await next(context);
    }

    [GeneratedRegex("^[0-9]{1,8}[HMSmun]$", RegexOptions.CultureInvariant)]
    private static partial Regex ValidTimeout();
}
