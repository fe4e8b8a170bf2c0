using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// The gRPC calls that end before any interceptor sees them: a unary request is read and parsed before the
/// interceptors run, so one refused there (too large, malformed) would go uncounted and unlogged while the
/// same refusal on a stream is both. After the call, a call that <see cref="CallOutcomeInterceptor"/> did not
/// count is counted and logged here from the status on the response. A unary <c>Recognize</c> larger than the
/// message limit is answered here first, in words that say what the limit is and what to use instead.
/// </summary>
internal sealed class UnhandledCallOutcomes(ServerOptions options, ServerMetrics metrics, ILogger logger)
{
    /// <summary>Set by <see cref="CallOutcomeInterceptor"/> on the calls it counted.</summary>
    public const string CountedMark = "ser.counted";

    private static readonly HashSet<string> Counted =
    [
        EmotionService.StreamingRecognizePath,
        EmotionService.RecognizePath,
        EmotionService.ListModelsPath,
    ];

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (!AccessPolicy.IsNativeGrpc(context.Request) && !IsGrpcWeb(context.Request))
        {
            await next(context);
            return;
        }
        var method = context.Request.Path.Value ?? "";
        if (!Counted.Contains(method))
        {
            // Unknown methods are answered UNIMPLEMENTED by Grpc.AspNetCore and not counted: a label per name
            // a client makes up would grow the series without bound.
            await next(context);
            return;
        }
        if (
            method == EmotionService.RecognizePath
            && await DeclaredLengthAsync(context) is { } length
            && length > options.MaxMessageBytes
        )
        {
            await RefuseAsync(
                context,
                method,
                StatusCode.ResourceExhausted,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"Recognize takes a whole recording in one message of at most {options.MaxMessageBytes / (1024.0 * 1024):0.#} MiB (Server:MaxMessageBytes), this one is {length / (1024.0 * 1024):0.#} MiB: send a longer recording with StreamingRecognize and config.recorded = true (ser stream --fast does), which keeps every window."
                )
            );
            return;
        }
        await next(context);
        if (context.Items.ContainsKey(CountedMark))
        {
            return;
        }
        if (Status(context) is { } code)
        {
            metrics.CallFinished(method, code);
            if (code != StatusCode.OK)
            {
                ServerLog.CallRefused(
                    logger,
                    CallStatus.Name(code),
                    Message(context) ?? "(refused before the handler)"
                );
            }
        }
    }

    private static bool IsGrpcWeb(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The first message's length from its 5-byte gRPC frame header, read without consuming it.</summary>
    private static async Task<long?> DeclaredLengthAsync(HttpContext context)
    {
        if (!AccessPolicy.IsNativeGrpc(context.Request))
        {
            return null;
        }
        var reader = context.Request.BodyReader;
        var result = await reader.ReadAtLeastAsync(5, context.RequestAborted);
        var buffer = result.Buffer;
        long? length = null;
        if (buffer.Length >= 5)
        {
            Span<byte> header = stackalloc byte[5];
            buffer.Slice(0, 5).CopyTo(header);
            length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        }
        reader.AdvanceTo(buffer.Start);
        return length;
    }

    private async Task RefuseAsync(HttpContext context, string method, StatusCode code, string message)
    {
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
        await context.Response.CompleteAsync();
        metrics.CallFinished(method, code);
        ServerLog.CallRefused(logger, CallStatus.Name(code), message);
    }

    private static StatusCode? Status(HttpContext context) =>
        Header(context, "grpc-status") is { } text
        && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var code)
            ? (StatusCode)code
            : null;

    private static string? Message(HttpContext context) =>
        Header(context, "grpc-message") is { } text ? Uri.UnescapeDataString(text) : null;

    /// <summary>A trailers-only answer has the status in its headers; others in the trailers.</summary>
    private static string? Header(HttpContext context, string name)
    {
        var value = context.Response.Headers[name].ToString();
        if (value.Length == 0 && context.Features.Get<IHttpResponseTrailersFeature>() is { } trailers)
        {
            value = trailers.Trailers[name].ToString();
        }
        return value.Length == 0 ? null : value;
    }
}
