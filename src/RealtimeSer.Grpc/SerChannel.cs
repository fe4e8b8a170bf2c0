using System.Net.Sockets;
using System.Security.Authentication;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Grpc;

/// <summary>
/// A client's connection to a <c>ser serve</c> on Grpc.Net.Client: HTTP/2 (prior knowledge for http://, ALPN
/// for https://), the API key on every call, and the library's retry policy for the unary calls (a replica
/// restarting behind a load balancer answers UNAVAILABLE for a moment). Streams are not retried here:
/// <see cref="ReconnectingStream"/> reopens them with stream time preserved.
/// </summary>
public sealed class SerChannel : IDisposable
{
    private const string RecognizerService = "realtime_ser.v1.EmotionRecognizer";
    private readonly GrpcChannel _channel;

    public SerChannel(Uri address, string? apiKey = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (AddressProblem(address.OriginalString) is { } problem)
        {
            throw new ArgumentException($"{address.OriginalString}: {problem}", nameof(address));
        }
        Address = address;
        _channel = GrpcChannel.ForAddress(
            address,
            new GrpcChannelOptions
            {
                HttpHandler =
                    handler
                    ?? new SocketsHttpHandler
                    {
                        EnableMultipleHttp2Connections = true,
                        // Keep idle streams' connections alive through NATs and proxies.
                        KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                        KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
                    },
                // A cancelled call ends with OperationCanceledException, as every other awaited operation here.
                ThrowOperationCanceledOnCancellation = true,
                ServiceConfig = new ServiceConfig { MethodConfigs = { UnaryRetry() } },
            }
        );
        var invoker = _channel.CreateCallInvoker();
        if (!string.IsNullOrEmpty(apiKey))
        {
            invoker = invoker.Intercept(headers =>
            {
                headers.Add("authorization", "Bearer " + apiKey);
                return headers;
            });
        }
        Invoker = invoker;
        Recognizer = new EmotionRecognizer.EmotionRecognizerClient(invoker);
        Health = new Health.HealthClient(invoker);
    }

    /// <summary>The server's address as given.</summary>
    public Uri Address { get; }

    /// <summary>
    /// Why <paramref name="value"/> is not an address this client can connect to, saying what to write
    /// instead; null when it is one. Grpc.Net.Client takes "localhost:50051" for an address of the scheme
    /// "localhost" and fails with "No address resolver configured", so the scheme is asked for here.
    /// </summary>
    public static string? AddressProblem(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (
            Uri.TryCreate(value, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        )
        {
            return uri.Host.Length > 0 ? null : "the address names no host: use http://HOST:PORT";
        }
        return value.Contains("://", StringComparison.Ordinal)
            ? "only http:// (cleartext HTTP/2) and https:// (TLS) addresses are served: use http://HOST:PORT or https://HOST:PORT"
            : $"give the scheme: http://{value} (cleartext HTTP/2) or https://{value} (TLS)";
    }

    /// <summary>
    /// A failed call in words a user can act on: "cannot connect to HOST:PORT (connection refused)" when no
    /// connection could be made, else the status the server (or a proxy) answered.
    /// </summary>
    public string Explain(RpcException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return Explain(error.Status);
    }

    /// <inheritdoc cref="Explain(RpcException)"/>
    public string Explain(Status status) =>
        ConnectionFailure(status) is { } why
            ? $"cannot connect to {Address.Host}:{Address.Port} ({why})"
            : $"the server answered {status.StatusCode}: {status.Detail}";

    /// <summary>
    /// Why no connection could be made ("connection refused", "host not found", ...), when that is how the
    /// call failed; null for a status a server or proxy sent.
    /// </summary>
    public static string? ConnectionFailure(Status status)
    {
        if (status.StatusCode != StatusCode.Unavailable)
        {
            return null;
        }
        for (var e = status.DebugException; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SocketException socket:
                    return socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused => "connection refused",
                        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain =>
                            "host not found",
                        SocketError.TimedOut => "timed out",
                        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
                        _ => socket.Message,
                    };
                case AuthenticationException tls:
                    return $"TLS handshake failed: {tls.Message}";
            }
        }
        return null;
    }

    /// <summary>For other services on the same connection (reflection, tests).</summary>
    public CallInvoker Invoker { get; }

    public EmotionRecognizer.EmotionRecognizerClient Recognizer { get; }

    public Health.HealthClient Health { get; }

    private static MethodConfig UnaryRetry() =>
        new()
        {
            Names =
            {
                new MethodName { Service = RecognizerService, Method = "Recognize" },
                new MethodName { Service = RecognizerService, Method = "ListModels" },
                new MethodName { Service = "grpc.health.v1.Health", Method = "Check" },
            },
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = 4,
                InitialBackoff = TimeSpan.FromMilliseconds(250),
                MaxBackoff = TimeSpan.FromSeconds(2),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.Unavailable },
            },
        };

    public void Dispose() => _channel.Dispose();
}
