using System.Net.WebSockets;
using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace RealtimeSer.Server;

/// <summary>gRPC statuses (the admission and config rules are shared with gRPC) as HTTP and WebSocket errors.</summary>
internal static class WebErrors
{
    public static string CodeName(StatusCode code) =>
        code switch
        {
            StatusCode.InvalidArgument => "INVALID_ARGUMENT",
            StatusCode.Unauthenticated => "UNAUTHENTICATED",
            StatusCode.PermissionDenied => "PERMISSION_DENIED",
            StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
            StatusCode.Unavailable => "UNAVAILABLE",
            StatusCode.OutOfRange => "OUT_OF_RANGE",
            StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
            StatusCode.NotFound => "NOT_FOUND",
            StatusCode.Cancelled => "CANCELLED",
            _ => "INTERNAL",
        };

    public static int HttpStatus(StatusCode code) =>
        code switch
        {
            StatusCode.InvalidArgument => StatusCodes.Status400BadRequest,
            StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
            StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
            StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
            StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
            StatusCode.OutOfRange => StatusCodes.Status413PayloadTooLarge,
            StatusCode.DeadlineExceeded => StatusCodes.Status408RequestTimeout,
            StatusCode.NotFound => StatusCodes.Status404NotFound,
            _ => StatusCodes.Status500InternalServerError,
        };

    /// <summary>1008 policy, 1007 bad data, 1013 try again later, 1011 server error.</summary>
    public static WebSocketCloseStatus CloseStatus(StatusCode code) =>
        code switch
        {
            StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.DeadlineExceeded =>
                WebSocketCloseStatus.PolicyViolation,
            StatusCode.InvalidArgument => WebSocketCloseStatus.InvalidPayloadData,
            StatusCode.OutOfRange => WebSocketCloseStatus.MessageTooBig,
            StatusCode.ResourceExhausted or StatusCode.Unavailable => (WebSocketCloseStatus)1013,
            _ => WebSocketCloseStatus.InternalServerError,
        };

    /// <summary>
    /// A close frame's reason holds at most 123 bytes of UTF-8 (RFC 6455, 5.5); longer details are cut at a
    /// character boundary and marked with an ellipsis. The whole detail goes in the error message before it.
    /// </summary>
    public static string CloseReason(string detail)
    {
        const int max = 123;
        if (System.Text.Encoding.UTF8.GetByteCount(detail) <= max)
        {
            return detail;
        }
        var length = detail.Length;
        while (System.Text.Encoding.UTF8.GetByteCount(detail.AsSpan(0, length)) > max - 3)
        {
            length--;
        }
        if (length > 0 && char.IsHighSurrogate(detail[length - 1]))
        {
            length--;
        }
        return string.Concat(detail.AsSpan(0, length), "…");
    }

    public static void WriteError(Utf8JsonWriter json, Status status)
    {
        json.WriteStartObject();
        json.WriteString("event", "error");
        json.WriteString("code", CodeName(status.StatusCode));
        json.WriteString("message", status.Detail);
        json.WriteEndObject();
    }

    public static async Task WriteHttpAsync(HttpContext context, Status status, Metadata? trailers = null)
    {
        context.Response.StatusCode = HttpStatus(status.StatusCode);
        if (trailers?.GetValue(KeyLimits.RetryAfterTrailer) is { } ms && long.TryParse(ms, out var wait))
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (wait + 999) / 1000)
                .ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        context.Response.ContentType = "application/json; charset=utf-8";
        if (status.StatusCode == StatusCode.Unauthenticated)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        await using var json = new Utf8JsonWriter(context.Response.Body);
        WriteError(json, status);
        await json.FlushAsync(context.RequestAborted);
    }
}
