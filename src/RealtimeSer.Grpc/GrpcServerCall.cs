using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace RealtimeSer.Grpc;

/// <summary>
/// One gRPC call on an ASP.NET Core request: validated request headers, a deadline, framed reads and writes,
/// and the status at the end (in trailers, or in the headers of a trailers-only response). The token
/// fires when the client goes away or the deadline passes.
/// </summary>
public sealed class GrpcServerCall : IDisposable
{
    private readonly HttpContext _context;
    private readonly CancellationTokenSource _cancel;
    private readonly int _maxMessageSize;
    private bool _deadlineExpired;
    private int _completed;

    private GrpcServerCall(HttpContext context, int maxMessageSize, TimeSpan? timeout)
    {
        _context = context;
        _maxMessageSize = maxMessageSize;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (timeout is { } t)
        {
            Deadline = DateTimeOffset.UtcNow + t;
            _cancel.CancelAfter(t);
            // Remember why we were cancelled: the client going away is not a deadline.
            _cancel.Token.Register(() => _deadlineExpired = !context.RequestAborted.IsCancellationRequested);
        }
    }

    public HttpContext HttpContext => _context;

    public IHeaderDictionary RequestHeaders => _context.Request.Headers;

    /// <summary>Fires when the client goes away or the deadline passes.</summary>
    public CancellationToken CancellationToken => _cancel.Token;

    public DateTimeOffset? Deadline { get; }

    public bool DeadlineExpired => Volatile.Read(ref _deadlineExpired);

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>
    /// Checks the request is a gRPC call we can serve. Non-gRPC content types get HTTP 415 (the spec's
    /// answer) and null; protocol errors a gRPC can express end the call with that status and null.
    /// </summary>
    public static async Task<GrpcServerCall?> AcceptAsync(HttpContext context, int maxMessageSize)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!GrpcProtocol.IsGrpcContentType(context.Request.ContentType))
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            await context.Response.WriteAsync("gRPC requests need content-type application/grpc.");
            return null;
        }
        TimeSpan? timeout = null;
        if (context.Request.Headers.TryGetValue(GrpcProtocol.TimeoutHeader, out var timeoutValue))
        {
            if (!GrpcTimeout.TryParse(timeoutValue.ToString(), out var t))
            {
                await WriteStatusAsync(
                    context,
                    new(GrpcStatusCode.Internal, "Malformed grpc-timeout header.")
                );
                return null;
            }
            timeout = t;
        }
        var encoding = context.Request.Headers[GrpcProtocol.EncodingHeader].ToString();
        if (encoding.Length > 0 && encoding != GrpcProtocol.IdentityEncoding)
        {
            context.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.IdentityEncoding;
            await WriteStatusAsync(
                context,
                new(
                    GrpcStatusCode.Unimplemented,
                    $"Unsupported grpc-encoding '{encoding}'; supported: identity."
                )
            );
            return null;
        }
        context.Response.ContentType = GrpcProtocol.ContentType;
        context.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.IdentityEncoding;
        // Large, slow streams are normal for gRPC: Kestrel's body size and minimum rate limits would cut them.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = null;
        }
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }
        return new GrpcServerCall(context, maxMessageSize, timeout);
    }

    /// <summary>The next request message, or null when the client half-closed.</summary>
    public ValueTask<T?> ReadAsync<T>(MessageParser<T> parser)
        where T : class, IMessage<T> =>
        _context.Request.BodyReader.ReadMessageAsync(parser, _maxMessageSize, _cancel.Token);

    public async ValueTask WriteAsync(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_context.Response.HasStarted)
        {
            await _context.Response.StartAsync(_cancel.Token);
        }
        await _context.Response.BodyWriter.WriteMessageAsync(message, _cancel.Token);
    }

    /// <summary>Ends the call with <paramref name="status"/> (once; later calls do nothing).</summary>
    public async Task CompleteAsync(GrpcStatus status)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0 || _context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        await WriteStatusAsync(_context, status);
    }

    private static async Task WriteStatusAsync(HttpContext context, GrpcStatus status)
    {
        var response = context.Response;
        var code = ((int)status.Code).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var message = status.Detail.Length > 0 ? PercentEncoding.Encode(status.Detail) : null;
        if (!response.HasStarted)
        {
            // Trailers-only response: the status travels in the headers and the stream ends with them.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcProtocol.ContentType;
            response.Headers[GrpcProtocol.StatusTrailer] = code;
            if (message is not null)
            {
                response.Headers[GrpcProtocol.MessageTrailer] = message;
            }
            await response.CompleteAsync();
            return;
        }
        if (response.SupportsTrailers())
        {
            response.AppendTrailer(GrpcProtocol.StatusTrailer, code);
            if (message is not null)
            {
                response.AppendTrailer(GrpcProtocol.MessageTrailer, message);
            }
        }
        await response.CompleteAsync();
    }

    public void Dispose() => _cancel.Dispose();
}
