using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace RealtimeSer.Grpc;

/// <summary>
/// A small gRPC client over <see cref="HttpClient"/> (HTTP/2 only: h2c prior knowledge for http://, ALPN for
/// https://). Streams are full duplex: request messages go out while responses come in.
/// </summary>
public sealed class GrpcClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    public GrpcClient(Uri address, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        _ownsHttp = true;
        _http = new HttpClient(
            handler
                ?? new SocketsHttpHandler
                {
                    EnableMultipleHttp2Connections = true,
                    // Keep idle streams' connections alive through NATs and proxies.
                    KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                    KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
                },
            disposeHandler: true
        )
        {
            BaseAddress = address,
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    /// <summary>Sent with every call, e.g. <c>authorization: Bearer …</c>.</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public int MaxReceiveMessageSize { get; init; } = GrpcProtocol.DefaultMaxMessageSize;

    /// <summary>Starts a bidirectional streaming call to <paramref name="method"/> (/package.Service/Method).</summary>
    public GrpcDuplexCall<TResponse> StartDuplex<TResponse>(
        string method,
        MessageParser<TResponse> parser,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default
    )
        where TResponse : class, IMessage<TResponse>
    {
        var request = CreateRequest(method, timeout);
        return new GrpcDuplexCall<TResponse>(
            _http,
            request,
            parser,
            MaxReceiveMessageSize,
            timeout,
            cancellationToken
        );
    }

    /// <summary>A unary call: one message each way.</summary>
    public async Task<TResponse> UnaryAsync<TResponse>(
        string method,
        IMessage request,
        MessageParser<TResponse> parser,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default
    )
        where TResponse : class, IMessage<TResponse>
    {
        await using var call = StartDuplex(method, parser, timeout, cancellationToken);
        await call.WriteAsync(request);
        await call.CompleteRequestAsync();
        var response = await call.ReadAsync();
        // Drain to the trailers: an error status after a message still fails the call.
        while (await call.ReadAsync() is not null) { }
        return response
            ?? throw new GrpcException(GrpcStatusCode.Internal, "No response message for a unary call.");
    }

    /// <summary>A server-streaming call: one request, responses until the status.</summary>
    public async Task<GrpcDuplexCall<TResponse>> StartServerStreamAsync<TResponse>(
        string method,
        IMessage request,
        MessageParser<TResponse> parser,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default
    )
        where TResponse : class, IMessage<TResponse>
    {
        var call = StartDuplex(method, parser, timeout, cancellationToken);
        await call.WriteAsync(request);
        await call.CompleteRequestAsync();
        return call;
    }

    private HttpRequestMessage CreateRequest(string method, TimeSpan? timeout)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, method)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation(GrpcProtocol.TeHeader, GrpcProtocol.Trailers);
        request.Headers.TryAddWithoutValidation(
            GrpcProtocol.AcceptEncodingHeader,
            GrpcProtocol.IdentityEncoding
        );
        if (timeout is { } t)
        {
            request.Headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcTimeout.Format(t));
        }
        foreach (var (name, value) in Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}

/// <summary>
/// One client call: write requests, half-close, read responses; the final status is thrown as a
/// <see cref="GrpcException"/> from <see cref="ReadAsync"/> unless OK. Disposing early cancels the call.
/// </summary>
public sealed class GrpcDuplexCall<TResponse> : IAsyncDisposable
    where TResponse : class, IMessage<TResponse>
{
    private readonly Pipe _requestPipe = new(new PipeOptions(useSynchronizationContext: false));
    private readonly CancellationTokenSource _cancel;
    private readonly MessageParser<TResponse> _parser;
    private readonly int _maxMessageSize;
    private readonly Task<HttpResponseMessage> _responseTask;
    private HttpResponseMessage? _response;
    private PipeReader? _responseReader;
    private GrpcStatus? _status;

    internal GrpcDuplexCall(
        HttpClient http,
        HttpRequestMessage request,
        MessageParser<TResponse> parser,
        int maxMessageSize,
        TimeSpan? timeout,
        CancellationToken cancellationToken
    )
    {
        _parser = parser;
        _maxMessageSize = maxMessageSize;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } t)
        {
            _cancel.CancelAfter(t);
        }
        request.Content = new PipeContent(_requestPipe.Reader);
        _responseTask = http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _cancel.Token);
        // If the request fails outright nobody reads the request pipe: release a writer waiting on it.
        _ = _responseTask.ContinueWith(
            _ => _requestPipe.Writer.CancelPendingFlush(),
            CancellationToken.None,
            TaskContinuationOptions.NotOnRanToCompletion,
            TaskScheduler.Default
        );
    }

    /// <summary>The final status once the response has ended.</summary>
    public GrpcStatus? Status => _status;

    public CancellationToken CancellationToken => _cancel.Token;

    /// <summary>Sends one message; false when the server has already ended the call (read for its status).</summary>
    public async ValueTask<bool> WriteAsync(IMessage message)
    {
        if (_status is not null || _responseTask.IsFaulted || _responseTask.IsCanceled)
        {
            return false;
        }
        _requestPipe.Writer.WriteMessage(message);
        var flush = await _requestPipe.Writer.FlushAsync(_cancel.Token);
        return !flush.IsCompleted && !flush.IsCanceled;
    }

    /// <summary>Half-closes: the server sees the end of the request stream.</summary>
    public ValueTask CompleteRequestAsync() => _requestPipe.Writer.CompleteAsync();

    /// <summary>The next response, or null at an OK end; a non-OK end throws <see cref="GrpcException"/>.</summary>
    public async ValueTask<TResponse?> ReadAsync()
    {
        if (_status is { } done)
        {
            return done.Code == GrpcStatusCode.OK ? null : throw new GrpcException(done);
        }
        try
        {
            if (_responseReader is null)
            {
                _response = await _responseTask;
                if (_response.StatusCode != HttpStatusCode.OK)
                {
                    return Finish(GrpcStatus.FromHttpStatus(_response.StatusCode));
                }
                if (StatusFrom(_response.Headers) is { } trailersOnly)
                {
                    return Finish(trailersOnly);
                }
                if (!GrpcProtocol.IsGrpcContentType(_response.Content.Headers.ContentType?.MediaType))
                {
                    return Finish(
                        new(GrpcStatusCode.Internal, "Response content-type is not application/grpc.")
                    );
                }
                _responseReader = PipeReader.Create(
                    await _response.Content.ReadAsStreamAsync(_cancel.Token),
                    new StreamPipeReaderOptions(leaveOpen: false)
                );
            }
            var message = await _responseReader.ReadMessageAsync(_parser, _maxMessageSize, _cancel.Token);
            if (message is not null)
            {
                return message;
            }
            return Finish(
                StatusFrom(_response!.TrailingHeaders)
                    ?? new(GrpcStatusCode.Internal, "The response ended without grpc-status.")
            );
        }
        catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
        {
            throw;
        }
        catch (HttpRequestException e)
        {
            return Finish(new(GrpcStatusCode.Unavailable, e.Message));
        }
        catch (IOException e)
        {
            return Finish(new(GrpcStatusCode.Unavailable, e.Message));
        }
    }

    private TResponse? Finish(GrpcStatus status)
    {
        _status = status;
        // The request side may still be writing: stop it, the call is over.
        _requestPipe.Reader.CancelPendingRead();
        _requestPipe.Writer.CancelPendingFlush();
        return status.Code == GrpcStatusCode.OK ? null : throw new GrpcException(status);
    }

    private static GrpcStatus? StatusFrom(HttpHeaders headers)
    {
        if (!headers.TryGetValues(GrpcProtocol.StatusTrailer, out var codes))
        {
            return null;
        }
        var codeText = codes.FirstOrDefault();
        if (!int.TryParse(codeText, System.Globalization.CultureInfo.InvariantCulture, out var code))
        {
            return new GrpcStatus(GrpcStatusCode.Unknown, $"Malformed grpc-status '{codeText}'.");
        }
        var detail = headers.TryGetValues(GrpcProtocol.MessageTrailer, out var messages)
            ? PercentEncoding.Decode(messages.FirstOrDefault() ?? "")
            : "";
        return new GrpcStatus((GrpcStatusCode)code, detail);
    }

    public async ValueTask DisposeAsync()
    {
        if (_status is null)
        {
            // Ending before the status is a cancellation: it resets the HTTP/2 stream.
            await _cancel.CancelAsync();
        }
        await _requestPipe.Writer.CompleteAsync();
        try
        {
            await _responseTask;
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException) { }
        if (_responseReader is not null)
        {
            await _responseReader.CompleteAsync();
        }
        _response?.Dispose();
        _cancel.Dispose();
    }

    /// <summary>Request body fed from a pipe; each write is flushed so messages leave as they are written.</summary>
    private sealed class PipeContent : HttpContent
    {
        private readonly PipeReader _reader;

        public PipeContent(PipeReader reader)
        {
            _reader = reader;
            Headers.ContentType = new MediaTypeHeaderValue(GrpcProtocol.ContentType);
        }

        protected override async Task SerializeToStreamAsync(
            Stream stream,
            TransportContext? context,
            CancellationToken cancellationToken
        )
        {
            try
            {
                while (true)
                {
                    var result = await _reader.ReadAsync(cancellationToken);
                    if (result.IsCanceled)
                    {
                        break;
                    }
                    foreach (var segment in result.Buffer)
                    {
                        await stream.WriteAsync(segment, cancellationToken);
                    }
                    await stream.FlushAsync(cancellationToken);
                    _reader.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
            }
            finally
            {
                await _reader.CompleteAsync();
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
