using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using static RealtimeSer.Server.Tests.Web.WebTestSupport;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>
/// The browser-facing limits, each at its edge: a WebSocket stream's length (Server:MaxStreamSeconds:
/// OUT_OF_RANGE, close 1009), a WebSocket text message's size (64 KiB: INVALID_ARGUMENT, close 1007) and an
/// upload's size (Server:MaxUploadBytes: HTTP 413). Just within each limit is served; just beyond it is refused.
/// </summary>
public sealed class WebLimitTests
{
    private const string Linear16Mono = "{\"encoding\":\"LINEAR16\",\"sampleRateHertz\":16000}";

    /// <summary>The WebSocket text-message limit (BrowserStreamEndpoint.MaxTextBytes).</summary>
    private const int MaxTextBytes = 64 * 1024;

    /// <summary>One second of 16 kHz mono LINEAR16.</summary>
    private const int BytesPerSecond = 32000;

    [SkippableFact]
    public async Task A_WebSocket_stream_of_exactly_MaxStreamSeconds_is_served()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxStreamSeconds = 1);
        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Config(Linear16Mono));
        Assert.Equal("ready", Event((await ReceiveAsync(socket))!.Value));
        await SendBinaryAsync(socket, new byte[BytesPerSecond]);
        await SendTextAsync(socket, "{\"event\":\"end\"}");
        var messages = await ReceiveAllAsync(socket, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(messages, m => Event(m) == "error");
        var done = Assert.Single(messages, m => Event(m) == "done");
        Assert.Equal(1, done.GetProperty("audio_s").GetDouble(), 2);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task A_WebSocket_stream_longer_than_MaxStreamSeconds_ends_OUT_OF_RANGE_with_close_1009()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxStreamSeconds = 1);
        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Config(Linear16Mono));
        Assert.Equal("ready", Event((await ReceiveAsync(socket))!.Value));
        // Half a second, then the rest of the second and one sample more in the next message.
        await SendBinaryAsync(socket, new byte[BytesPerSecond / 2]);
        await SendBinaryAsync(socket, new byte[(BytesPerSecond / 2) + 2]);
        var messages = await ReceiveAllAsync(socket, TimeSpan.FromSeconds(30));
        var error = Assert.Single(messages, m => Event(m) == "error");
        Assert.Equal("OUT_OF_RANGE", error.GetProperty("code").GetString());
        Assert.Contains("limit of 1 s", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
        Assert.Equal(1009, (int)socket.CloseStatus!.Value);
        Assert.Contains("longer than", socket.CloseStatusDescription, StringComparison.Ordinal);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task A_config_text_message_of_exactly_64_KiB_is_read()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Padded(Config(Linear16Mono), MaxTextBytes));
        Assert.Equal("ready", Event((await ReceiveAsync(socket))!.Value));
        await SendTextAsync(socket, "{\"event\":\"end\"}");
        var messages = await ReceiveAllAsync(socket, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(messages, m => Event(m) == "error");
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task A_config_text_message_over_64_KiB_is_INVALID_ARGUMENT_with_close_1007()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Padded(Config(Linear16Mono), MaxTextBytes + 1));
        await AssertTextRefusedAsync(socket);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task A_text_message_over_64_KiB_after_the_config_is_INVALID_ARGUMENT_with_close_1007()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Config(Linear16Mono));
        Assert.Equal("ready", Event((await ReceiveAsync(socket))!.Value));
        await SendBinaryAsync(socket, new byte[3200]);
        await SendTextAsync(socket, Padded("{\"event\":\"end\"}", MaxTextBytes + 1));
        await AssertTextRefusedAsync(socket);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task An_upload_of_exactly_MaxUploadBytes_is_analysed()
    {
        const int limit = 64 * 1024;
        await using var server = await TestServer.StartAsync(o => o.MaxUploadBytes = limit);
        using var http = Http(server.Server);
        var wav = Wav(new byte[limit - 44], 16000, 1);
        Assert.Equal(limit, wav.Length);
        using var response = await http.PostAsync(
            FileAnalysisEndpoint.Path + "?name=limit.wav",
            new ByteArrayContent(wav)
        );
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}");
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task An_upload_over_MaxUploadBytes_is_refused_with_413_whether_its_length_is_declared_or_not()
    {
        const int limit = 64 * 1024;
        await using var server = await TestServer.StartAsync(o => o.MaxUploadBytes = limit);
        using var http = Http(server.Server);
        var wav = Wav(new byte[limit - 44 + 2], 16000, 1);
        Assert.Equal(limit + 2, wav.Length);
        // Content-Length says it at once; a chunked body (no length) is cut where it passes the limit. The body
        // is small enough to be sent whole before the server answers.
        foreach (
            var (how, content) in new (string, HttpContent)[]
            {
                ("declared length", new ByteArrayContent(wav)),
                ("chunked", new ChunkedContent(wav)),
            }
        )
        {
            using (content)
            {
                using var response = await http.PostAsync(
                    FileAnalysisEndpoint.Path + "?name=big.wav",
                    content
                );
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(
                    response.StatusCode == HttpStatusCode.RequestEntityTooLarge,
                    $"{how}: {response.StatusCode} {body}"
                );
                var error = JsonDocument.Parse(body).RootElement;
                Assert.Equal("error", error.GetProperty("event").GetString());
                Assert.Equal("OUT_OF_RANGE", error.GetProperty("code").GetString());
                Assert.Contains(
                    "Server:MaxUploadBytes",
                    error.GetProperty("message").GetString(),
                    StringComparison.Ordinal
                );
            }
        }
        // The server is still fine: an upload within the limit is analysed.
        using var ok = await http.PostAsync(
            FileAnalysisEndpoint.Path + "?name=small.wav",
            new ByteArrayContent(Wav(new byte[3200], 16000, 1))
        );
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.True((await ok.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("events", out _));
        await server.WaitForNoStreamsAsync();
    }

    private static async Task AssertTextRefusedAsync(ClientWebSocket socket)
    {
        var messages = await ReceiveAllAsync(socket, TimeSpan.FromSeconds(30));
        var error = Assert.Single(messages, m => Event(m) == "error");
        Assert.Equal("INVALID_ARGUMENT", error.GetProperty("code").GetString());
        Assert.Contains(
            $"limited to {MaxTextBytes} bytes",
            error.GetProperty("message").GetString(),
            StringComparison.Ordinal
        );
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, socket.CloseStatus);
        Assert.Equal(1007, (int)socket.CloseStatus!.Value);
    }

    /// <summary><paramref name="json"/> followed by spaces (still the same JSON) to exactly <paramref name="bytes"/> bytes.</summary>
    private static string Padded(string json, int bytes)
    {
        var padded = json + new string(' ', bytes - Encoding.UTF8.GetByteCount(json));
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(padded));
        return padded;
    }

    private static Task SendBinaryAsync(ClientWebSocket socket, byte[] data) =>
        socket.SendAsync(data, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>A body sent with chunked transfer encoding: no Content-Length.</summary>
    private sealed class ChunkedContent(byte[] data) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            stream.WriteAsync(data, 0, data.Length);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
