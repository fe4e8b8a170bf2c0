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

    public static void WriteError(Utf8JsonWriter json, Status status)
    {
        json.WriteStartObject();
        json.WriteString("event", "error");
        json.WriteString("code", CodeName(status.StatusCode));
        json.WriteString("message", status.Detail);
        json.WriteEndObject();
    }

    public static async Task WriteHttpAsync(HttpContext context, Status status)
    {
        context.Response.StatusCode = HttpStatus(status.StatusCode);
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
