using System.Net;
using System.Net.WebSockets;
using System.Text;
using Grpc.Core;
using RealtimeSer.Grpc.V1;
using static RealtimeSer.Server.Tests.Web.WebTestSupport;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>What a browser or a probe sees at the edges: errors, closes, HEAD, names in configs.</summary>
public sealed class WebEdgeTests
{
    [SkippableFact]
    public async Task Unknown_paths_answer_JSON_404s_that_do_not_repeat_the_path_and_say_nosniff()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server.Server);
        const string probe = "<script>alert(1)</script>";
        foreach (var path in new[] { "/static/" + Uri.EscapeDataString(probe), "/static/", "/nope/" + probe })
        {
            using var response = await http.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path}: {response.StatusCode}");
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Contains("NOT_FOUND", body, StringComparison.Ordinal);
            Assert.DoesNotContain("script", body, StringComparison.OrdinalIgnoreCase);
        }
        // Native gRPC still answers UNIMPLEMENTED for unknown methods, not the web's 404.
        var unknown = await Assert.ThrowsAsync<RpcException>(() =>
            server.Client.UnaryAsync(
                "/realtime_ser.v1.EmotionRecognizer/Nope",
                new ListModelsRequest(),
                ListModelsResponse.Parser
            )
        );
        Assert.Equal(StatusCode.Unimplemented, unknown.StatusCode);
    }

    [SkippableFact]
    public async Task HEAD_on_the_pages_gives_their_headers_and_the_favicon_no_404()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server.Server);
        foreach (var page in new[] { "/", "/dashboard", "/static/js/common.js" })
        {
            using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, page));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Contains(
                "default-src 'self'",
                head.Headers.GetValues("Content-Security-Policy").Single(),
                StringComparison.Ordinal
            );
            Assert.True(head.Content.Headers.ContentLength > 0);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
        using var icon = await http.GetAsync("/favicon.ico");
        Assert.Equal(HttpStatusCode.NoContent, icon.StatusCode);
    }

    [SkippableFact]
    public async Task An_idle_WebSocket_stream_closes_with_a_policy_status_and_its_reason()
    {
        await using var server = await TestServer.StartAsync(o => o.StreamIdleTimeoutSeconds = 1);
        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Config("{\"encoding\":\"LINEAR16\",\"sampleRateHertz\":16000}"));
        Assert.Equal("ready", Event((await ReceiveAsync(socket))!.Value));
        var messages = await ReceiveAllAsync(socket, TimeSpan.FromSeconds(20));
        var error = Assert.Single(messages, m => Event(m) == "error");
        Assert.Equal("DEADLINE_EXCEEDED", error.GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, socket.CloseStatus);
        Assert.Contains("No message for 1 s", socket.CloseStatusDescription, StringComparison.Ordinal);
        await server.WaitForNoStreamsAsync();
    }

    [Fact]
    public void Close_reasons_keep_as_much_as_a_close_frame_holds()
    {
        var longDetail = new string('x', 40) + string.Concat(Enumerable.Repeat("é€", 60));
        var reason = WebErrors.CloseReason(longDetail);
        Assert.True(Encoding.UTF8.GetByteCount(reason) <= 123);
        Assert.True(Encoding.UTF8.GetByteCount(reason) >= 119, reason);
        Assert.EndsWith("…", reason, StringComparison.Ordinal);
        Assert.StartsWith(new string('x', 40), reason, StringComparison.Ordinal);
        const string shortDetail = "The server is shutting down; reconnect to another instance.";
        Assert.Equal(shortDetail, WebErrors.CloseReason(shortDetail));
        Assert.True(shortDetail.Length < 123);
    }

    [SkippableFact]
    public async Task Configs_with_long_or_control_names_or_non_finite_numbers_are_refused_naming_the_field()
    {
        await using var server = await TestServer.StartAsync();
        var cases = new Dictionary<string, Action<RecognitionConfig>>
        {
            ["config.channel_names"] = c => c.ChannelNames.Add(new string('n', 30_000)),
            ["config.model"] = c => c.Model = "bad\u0007model",
            ["config.window_seconds"] = c => c.WindowSeconds = double.NaN,
            ["config.hop_seconds"] = c => c.HopSeconds = double.PositiveInfinity,
            ["config.smoothing_seconds"] = c => c.SmoothingSeconds = double.NegativeInfinity,
            ["config.vad.start_threshold"] = c => c.Vad = new VadConfig { StartThreshold = float.NaN },
            ["config.vad.end_threshold"] = c => c.Vad = new VadConfig { EndThreshold = float.NaN },
        };
        foreach (var (field, spoil) in cases)
        {
            var config = new RecognitionConfig { Encoding = AudioEncoding.Linear16, SampleRateHertz = 16000 };
            spoil(config);
            var (_, status) = await server.StreamAsync(config, new byte[3200], paced: false);
            Assert.True(status.StatusCode == StatusCode.InvalidArgument, $"{field}: {status}");
            Assert.Contains(field, status.Detail, StringComparison.Ordinal);
        }
        await server.WaitForNoStreamsAsync();
    }
}
