using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Google.Protobuf;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Server.Tests.Web;
using RealtimeSer.Tests.Shared;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// Clients that hold a socket without doing their part: a stream whose events are never read, connections
/// that never send a byte. Each must end within its stated bound and free what it held.
/// </summary>
[Collection(RobustnessCollection.Name)]
public sealed class DeliveryDeadlineTests
{
    private const double DeliverySeconds = 2;
    private static readonly TimeSpan SlotBound = TimeSpan.FromSeconds(90);

    /// <summary>
    /// The browser protocol over TLS, where the WebSocket runs on HTTP/2 (RFC 8441) and the client's stream
    /// window (64 KiB, never renewed by a client that does not read) stops the server's event writes.
    /// </summary>
    [SkippableFact]
    public async Task A_WebSocket_stream_whose_events_are_never_read_frees_its_slot()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        var dir = Directory.CreateTempSubdirectory("ser-unread-").FullName;
        try
        {
            var trust = await WebTestSupport.SelfSignedAsync(dir);
            await using var server = await TestServer.StartAsync(
                o =>
                {
                    o.EventDeliveryTimeoutSeconds = DeliverySeconds;
                    o.TlsCertificate = Path.Combine(dir, "cert.pem");
                    o.TlsKey = Path.Combine(dir, "key.pem");
                },
                handler: new SocketsHttpHandler
                {
                    SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => trust(c) },
                }
            );
            using var handler = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => trust(c) },
                InitialHttp2StreamWindowSize = 65535,
            };
            using var socket = new ClientWebSocket();
            socket.Options.HttpVersion = HttpVersion.Version20;
            socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
            using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
            await socket.ConnectAsync(
                new Uri($"wss://127.0.0.1:{server.Server.Port}{BrowserStreamEndpoint.Path}"),
                invoker,
                CancellationToken.None
            );
            await socket.SendAsync(
                Encoding.UTF8.GetBytes(
                    "{\"config\":{\"encoding\":\"MULAW\",\"sampleRateHertz\":8000,\"audioChannelCount\":2,"
                        + "\"interimResults\":true,\"recorded\":true,\"hopSeconds\":0.1}}"
                ),
                WebSocketMessageType.Text,
                true,
                CancellationToken.None
            );
            var sending = SendAllAsync(socket, audio);

            await Poll.UntilAsync(
                () => server.Server.Streams.Count == 1,
                TimeSpan.FromSeconds(30),
                () => $"{server.Server.Streams.Count} streams open"
            );
            Assert.Equal(1, server.Server.LiveStreams);
            var started = Stopwatch.StartNew();
            await Poll.UntilAsync(
                () => server.Server.LiveStreams == 0 && server.Server.Streams.Count == 0,
                SlotBound,
                () => $"the slot was still held after {started.Elapsed}"
            );
            Assert.True(started.Elapsed < SlotBound, $"the slot was still held after {started.Elapsed}");
            Assert.Contains(
                "ser_streams_unread_total{transport=\"browser\"} 1",
                await Scrape.TextAsync(server),
                StringComparison.Ordinal
            );
            await IgnoreAsync(sending);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The same over gRPC: HTTP/2 flow control stops the writes once the client's window is full.</summary>
    [SkippableFact]
    public async Task A_gRPC_stream_whose_events_are_never_read_frees_its_slot()
    {
        // Three times the call: more events than the client's window and the server's stream buffer hold.
        var call1 = TestPaths.WavData(TestPaths.RequireCallFixture());
        byte[] audio = [.. call1, .. call1, .. call1];
        await using var server = await TestServer.StartAsync(
            o => o.EventDeliveryTimeoutSeconds = DeliverySeconds,
            handler: new SocketsHttpHandler { InitialHttp2StreamWindowSize = 65535 }
        );
        var config = TestServer.MulawStereo();
        config.Recorded = true;
        config.HopSeconds = 0.1;
        await using var call = server.Client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser
        );
        await call.WriteAsync(new StreamingRecognizeRequest { Config = config });
        var sending = Task.Run(async () =>
        {
            foreach (var chunk in audio.Chunk(32 * 1024))
            {
                await call.WriteAsync(
                    new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(chunk) }
                );
            }
            await call.CompleteRequestAsync();
        });

        await Poll.UntilAsync(
            () => server.Server.Streams.Count == 1,
            TimeSpan.FromSeconds(30),
            () => $"{server.Server.Streams.Count} streams open"
        );
        Assert.Equal(1, server.Server.LiveStreams);
        var started = Stopwatch.StartNew();
        await Poll.UntilAsync(
            () => server.Server.LiveStreams == 0 && server.Server.Streams.Count == 0,
            SlotBound,
            () => $"the slot was still held after {started.Elapsed}"
        );
        Assert.True(started.Elapsed < SlotBound, $"the slot was still held after {started.Elapsed}");
        var metrics = await Scrape.TextAsync(server);
        Assert.Contains("ser_streams_unread_total{transport=\"grpc\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains(
            "ser_grpc_calls_total{code=\"DEADLINE_EXCEEDED\",method=\"realtime_ser.v1.EmotionRecognizer/StreamingRecognize\"} 1",
            metrics,
            StringComparison.Ordinal
        );
        await IgnoreAsync(sending);
    }

    /// <summary>
    /// Connections that open and never send a byte are closed after the silence bound, whether the port
    /// relays HTTP/1.1 (cleartext with the web on) or speaks HTTP/2 only.
    /// </summary>
    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connections_that_never_send_a_byte_are_closed(bool web)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Web = web;
            o.ConnectionSilenceSeconds = 1;
        });
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 50; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, server.Server.Port);
                sockets.Add(socket);
            }
            var started = Stopwatch.StartNew();
            // A closed connection reads as the end of the stream (0 bytes) or a reset.
            var closed = await Task.WhenAll(
                sockets.Select(async s =>
                {
                    using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    try
                    {
                        return await s.ReceiveAsync(new byte[64], SocketFlags.None, cancel.Token) == 0;
                    }
                    catch (SocketException)
                    {
                        return true;
                    }
                    catch (OperationCanceledException)
                    {
                        return false;
                    }
                })
            );
            Assert.All(closed, Assert.True);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(30));
            Assert.Equal(
                global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
                await server.CheckAsync()
            );
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    private static async Task SendAllAsync(WebSocket socket, byte[] audio)
    {
        try
        {
            foreach (var chunk in audio.Chunk(32 * 1024))
            {
                await socket.SendAsync(chunk, WebSocketMessageType.Binary, true, CancellationToken.None);
            }
            await socket.SendAsync(
                "{\"event\":\"end\"}"u8.ToArray(),
                WebSocketMessageType.Text,
                true,
                CancellationToken.None
            );
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
        {
            // The server ended the stream while audio was still going out.
        }
    }

    private static async Task IgnoreAsync(Task task)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            // The client's own side of a stream the server ended: not what these tests judge.
        }
    }
}
