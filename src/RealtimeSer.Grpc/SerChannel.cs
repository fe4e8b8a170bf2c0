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
