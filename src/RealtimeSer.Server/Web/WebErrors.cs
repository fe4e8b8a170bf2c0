using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using RealtimeSer.Grpc;

namespace RealtimeSer.Server;

/// <summary>gRPC statuses (the admission and config rules are shared with gRPC) as HTTP and WebSocket errors.</summary>
internal static class WebErrors
{
    public static string CodeName(GrpcStatusCode code) =>
        code switch
        {
            GrpcStatusCode.InvalidArgument => "INVALID_ARGUMENT",
            GrpcStatusCode.Unauthenticated => "UNAUTHENTICATED",
            GrpcStatusCode.PermissionDenied => "PERMISSION_DENIED",
            GrpcStatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
            GrpcStatusCode.Unavailable => "UNAVAILABLE",
            GrpcStatusCode.OutOfRange => "OUT_OF_RANGE",
            GrpcStatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
            GrpcStatusCode.Cancelled => "CANCELLED",
            _ => "INTERNAL",
        };

    public static int HttpStatus(GrpcStatusCode code) =>
        code switch
        {
            GrpcStatusCode.InvalidArgument => StatusCodes.Status400BadRequest,
            GrpcStatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
            GrpcStatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
            GrpcStatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
            GrpcStatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
            GrpcStatusCode.OutOfRange => StatusCodes.Status413PayloadTooLarge,
            GrpcStatusCode.DeadlineExceeded => StatusCodes.Status408RequestTimeout,
            _ => StatusCodes.Status500InternalServerError,
        };

    /// <summary>1008 policy, 1007 bad data, 1013 try again later, 1011 server error.</summary>
    public static WebSocketCloseStatus CloseStatus(GrpcStatusCode code) =>
        code switch
        {
            GrpcStatusCode.Unauthenticated
            or GrpcStatusCode.PermissionDenied
            or GrpcStatusCode.DeadlineExceeded => WebSocketCloseStatus.PolicyViolation,
            GrpcStatusCode.InvalidArgument => WebSocketCloseStatus.InvalidPayloadData,
            GrpcStatusCode.OutOfRange => WebSocketCloseStatus.MessageTooBig,
            GrpcStatusCode.ResourceExhausted or GrpcStatusCode.Unavailable => (WebSocketCloseStatus)1013,
            _ => WebSocketCloseStatus.InternalServerError,
        };

    public static void WriteError(Utf8JsonWriter json, GrpcStatus status)
    {
        json.WriteStartObject();
        json.WriteString("event", "error");
        json.WriteString("code", CodeName(status.Code));
        json.WriteString("message", status.Detail);
        json.WriteEndObject();
    }

    public static async Task WriteHttpAsync(HttpContext context, GrpcStatus status)
    {
        context.Response.StatusCode = HttpStatus(status.Code);
        context.Response.ContentType = "application/json; charset=utf-8";
        if (status.Code == GrpcStatusCode.Unauthenticated)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        await using var json = new Utf8JsonWriter(context.Response.Body);
        WriteError(json, status);
        await json.FlushAsync(context.RequestAborted);
    }
}
