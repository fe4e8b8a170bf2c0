using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RealtimeSer.Grpc;

namespace RealtimeSer.Server.Tests;

/// <summary>
/// Calls by method path on Grpc.Net.Client (the tests name methods as the wire does), with headers a test
/// may change between calls, e.g. a key. The product's clients use the generated stubs (<see cref="SerChannel"/>).
/// </summary>
internal sealed class TestClient : IDisposable
{
    private static readonly Marshaller<IMessage> Requests = Marshallers.Create<IMessage>(
        m => m.ToByteArray(),
        _ => throw new NotSupportedException("requests are only written")
    );

    private readonly GrpcChannel _channel;

    public TestClient(Uri address, HttpMessageHandler? handler = null) =>
        _channel = GrpcChannel.ForAddress(
            address,
            new GrpcChannelOptions
            {
                HttpHandler = handler ?? new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
                ThrowOperationCanceledOnCancellation = true,
            }
        );

    /// <summary>Sent with every call, e.g. <c>authorization: Bearer …</c>.</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A call of any shape, opened as a duplex one (the wire is the same).</summary>
    public StreamingCall<IMessage, TResponse> StartDuplex<TResponse>(
        string method,
        MessageParser<TResponse> parser,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default
    )
        where TResponse : class, IMessage<TResponse> =>
        new(
            _channel
                .CreateCallInvoker()
                .AsyncDuplexStreamingCall(
                    Method(MethodType.DuplexStreaming, method, parser),
                    null,
                    Options(timeout, cancellationToken)
                ),
            cancellationToken
        );

    public async Task<TResponse> UnaryAsync<TResponse>(
        string method,
        IMessage request,
        MessageParser<TResponse> parser,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default
    )
        where TResponse : class, IMessage<TResponse> =>
        await _channel
            .CreateCallInvoker()
            .AsyncUnaryCall(
                Method(MethodType.Unary, method, parser),
                null,
                Options(timeout, cancellationToken),
                request
            );

    /// <summary>A server-streaming call: one request, then responses until the status.</summary>
    public async Task<StreamingCall<IMessage, TResponse>> StartServerStreamAsync<TResponse>(
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

    private CallOptions Options(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var headers = new Metadata();
        foreach (var (name, value) in Headers)
        {
            headers.Add(name, value);
        }
        return new CallOptions(headers, timeout is { } t ? DateTime.UtcNow + t : null, cancellationToken);
    }

    private static Method<IMessage, TResponse> Method<TResponse>(
        MethodType type,
        string path,
        MessageParser<TResponse> parser
    )
        where TResponse : class, IMessage<TResponse>
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return new Method<IMessage, TResponse>(
            type,
            parts[0],
            parts[1],
            Requests,
            Marshallers.Create<TResponse>(r => r.ToByteArray(), parser.ParseFrom)
        );
    }

    public void Dispose() => _channel.Dispose();
}
