using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Google.Protobuf;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Server.Tests.Robustness;
using static RealtimeSer.Server.Tests.Web.WebTestSupport;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>The browser endpoints without a browser: pages, WebSocket streaming, uploads, dashboard feed, guards.</summary>
public sealed class WebEndpointTests
{
    private const string MulawStereoConfig =
        "{\"encoding\":\"MULAW\",\"sampleRateHertz\":8000,\"audioChannelCount\":2,\"channelNames\":[\"agent\",\"customer\"],\"interimResults\":true}";

    [SkippableFact]
    public async Task Pages_are_served_over_HTTP_1_1_on_the_gRPC_port_which_still_speaks_gRPC()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server.Server);

        using var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(new Version(1, 1), page.Version);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Input device", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains(
            "default-src 'self'",
            page.Headers.GetValues("Content-Security-Policy").Single(),
            StringComparison.Ordinal
        );
        var dashboard = await http.GetStringAsync("/dashboard");
        Assert.Contains("Active streams", dashboard, StringComparison.Ordinal);
        using var script = await http.GetAsync("/static/js/mic.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        // Every asset a page names is served (no CDN, nothing missing).
        foreach (var asset in new[] { "site.css", "js/common.js", "js/timeline.js", "js/capture-worklet.js" })
        {
            using var r = await http.GetAsync("/static/" + asset);
            Assert.True(r.IsSuccessStatusCode, asset);
        }
        using var missing = await http.GetAsync("/static/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        var models = await server.Client.UnaryAsync(
            EmotionService.ListModelsPath,
            new ListModelsRequest(),
            ListModelsResponse.Parser
        );
        Assert.Equal("fake", Assert.Single(models.Models).Id);
    }

    [SkippableFact]
    public async Task A_browser_stream_gives_replay_schema_events_and_the_dashboard_lists_it_only_while_it_runs()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        await using var server = await TestServer.StartAsync();
        using var http = Http(server.Server);
        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Config(MulawStereoConfig));
        var ready = await ReceiveAsync(socket);
        Assert.Equal("ready", Event(ready!.Value));
        var id = ready.Value.GetProperty("stream").GetString()!;
        Assert.Equal(
            server.Engine.Classifier.Manifest.Labels,
            ready.Value.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!)
        );

        // 30 s of the call in 100 ms messages (8 kHz mu-law stereo: 1600 bytes).
        for (var offset = 0; offset < 30 * 16000; offset += 1600)
        {
            await socket.SendAsync(
                audio.AsMemory(offset, 1600),
                WebSocketMessageType.Binary,
                true,
                CancellationToken.None
            );
        }
        var listed = await http.GetFromJsonAsync<JsonElement>(DashboardEndpoint.SnapshotPath);
        var stream = Assert.Single(listed.GetProperty("streams").EnumerateArray());
        Assert.Equal(id, stream.GetProperty("id").GetString());
        Assert.Equal("browser", stream.GetProperty("source").GetString());
        Assert.Equal(
            ["agent", "customer"],
            stream.GetProperty("channels").EnumerateArray().Select(c => c.GetProperty("name").GetString())
        );

        await SendTextAsync(socket, "{\"event\":\"end\"}");
        var events = await ReceiveAllAsync(socket, TimeSpan.FromSeconds(60));
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        foreach (var channel in new[] { 0, 1 })
        {
            Assert.Contains(
                events,
                e => Event(e) == "speech_start" && e.GetProperty("channel").GetInt32() == channel
            );
            var finals = events
                .Where(e =>
                    Event(e) is null
                    && e.GetProperty("final").GetBoolean()
                    && e.GetProperty("channel").GetInt32() == channel
                )
                .ToList();
            Assert.NotEmpty(finals);
            foreach (var f in finals)
            {
                // The `ser replay` schema, field for field.
                Assert.Equal(channel == 0 ? "agent" : "customer", f.GetProperty("channel_name").GetString());
                Assert.True(f.GetProperty("end_s").GetDouble() > f.GetProperty("start_s").GetDouble());
                Assert.Contains(f.GetProperty("label").GetString(), server.Engine.Classifier.Manifest.Labels);
                Assert.Equal(
                    server.Engine.Classifier.Manifest.Labels,
                    f.GetProperty("scores").EnumerateObject().Select(p => p.Name)
                );
                Assert.True(f.GetProperty("latency_ms").GetProperty("end_to_end").GetDouble() >= 0);
                Assert.True(f.TryGetProperty("segment", out _) && f.TryGetProperty("windows", out _));
            }
        }
        Assert.Contains(events, e => Event(e) is null && !e.GetProperty("final").GetBoolean());
        var done = Assert.Single(events, e => Event(e) == "done");
        Assert.Equal(30, done.GetProperty("audio_s").GetDouble(), 0);

        await Wait.UntilAsync(
            () => server.Server.Streams.Count == 0,
            TimeSpan.FromSeconds(10),
            () => $"{server.Server.Streams.Count} stream(s) still listed"
        );
        var after = await http.GetFromJsonAsync<JsonElement>(DashboardEndpoint.SnapshotPath);
        Assert.Empty(after.GetProperty("streams").EnumerateArray());
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task Pages_that_vanish_or_fall_silent_leave_no_stream_behind()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        await using var server = await TestServer.StartAsync(o => o.StreamIdleTimeoutSeconds = 1);
        var vanishing = await ConnectAsync(server.Server);
        await SendTextAsync(vanishing, Config(MulawStereoConfig));
        Assert.Equal("ready", Event((await ReceiveAsync(vanishing))!.Value));
        for (var offset = 0; offset < 5 * 16000; offset += 1600)
        {
            await vanishing.SendAsync(
                audio.AsMemory(offset, 1600),
                WebSocketMessageType.Binary,
                true,
                CancellationToken.None
            );
        }
        // The tab is closed: the connection drops without a close handshake.
        vanishing.Abort();
        vanishing.Dispose();

        using var silent = await ConnectAsync(server.Server);
        await SendTextAsync(silent, Config(MulawStereoConfig));
        Assert.Equal("ready", Event((await ReceiveAsync(silent))!.Value));
        await server.WaitForNoStreamsAsync();
        Assert.Equal(0, server.Server.Streams.Count);
        // The silent page was cut off by the idle timeout: its socket does not stay open.
        Assert.NotEqual(WebSocketState.Open, await StateAfterReadAsync(silent));
    }

    private static async Task<WebSocketState> StateAfterReadAsync(ClientWebSocket socket)
    {
        try
        {
            while (await ReceiveAsync(socket, TimeSpan.FromSeconds(10)) is not null) { }
        }
        catch (WebSocketException)
        {
            // The server aborted the connection: that is the expected end here.
        }
        return socket.State;
    }

    [SkippableFact]
    public async Task Other_sites_and_rebound_host_names_are_refused_and_the_own_origin_is_not()
    {
        await using var server = await TestServer.StartAsync();
        var evil = await Assert.ThrowsAsync<WebSocketException>(() =>
            ConnectAsync(server.Server, origin: "http://evil.example")
        );
        Assert.Contains("403", evil.Message, StringComparison.Ordinal);

        using var http = Http(server.Server);
        using var upload = new HttpRequestMessage(HttpMethod.Post, FileAnalysisEndpoint.Path)
        {
            Content = new ByteArrayContent(new byte[2048]),
        };
        upload.Headers.Add("Origin", "http://evil.example");
        using var refused = await http.SendAsync(upload);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("evil.example", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // DNS rebinding: a hostile name pointing at 127.0.0.1 reaches a localhost-only server with its own Host.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, DashboardEndpoint.SnapshotPath);
        rebound.Headers.Host = $"evil.example:{server.Server.Port}";
        using var reboundResponse = await http.SendAsync(rebound);
        Assert.Equal(HttpStatusCode.Forbidden, reboundResponse.StatusCode);

        using var own = await ConnectAsync(server.Server);
        Assert.Equal(WebSocketState.Open, own.State);
    }

    [SkippableFact]
    public async Task With_API_keys_every_browser_endpoint_wants_one()
    {
        await using var server = await TestServer.StartAsync(o =>
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash("s3cret")]
        );
        using var anonymous = Http(server.Server);
        var info = await anonymous.GetFromJsonAsync<JsonElement>(WebEndpoints.InfoPath);
        Assert.True(info.GetProperty("auth_required").GetBoolean());
        foreach (
            var path in new[]
            {
                WebEndpoints.ModelsPath,
                DashboardEndpoint.SnapshotPath,
                DashboardEndpoint.LivePath,
            }
        )
        {
            using var r = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        }
        using var noKeyUpload = await anonymous.PostAsync(
            FileAnalysisEndpoint.Path,
            new ByteArrayContent(new byte[2048])
        );
        Assert.Equal(HttpStatusCode.Unauthorized, noKeyUpload.StatusCode);

        using (var socket = await ConnectAsync(server.Server))
        {
            await SendTextAsync(socket, Config(MulawStereoConfig, key: "wrong"));
            var error = await ReceiveAsync(socket);
            Assert.Equal("error", Event(error!.Value));
            Assert.Equal("UNAUTHENTICATED", error.Value.GetProperty("code").GetString());
            Assert.Null(await ReceiveAsync(socket));
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, socket.CloseStatus);
        }
        using (var socket = await ConnectAsync(server.Server))
        {
            await SendTextAsync(socket, Config(MulawStereoConfig, key: "s3cret"));
            Assert.Equal("ready", Event((await ReceiveAsync(socket))!.Value));
        }
        using var keyed = Http(server.Server, "s3cret");
        var models = await keyed.GetFromJsonAsync<JsonElement>(WebEndpoints.ModelsPath);
        Assert.Equal("fake", models.GetProperty("models")[0].GetProperty("id").GetString());
    }

    [SkippableFact]
    public async Task A_bad_first_message_is_INVALID_ARGUMENT_saying_what_to_send()
    {
        await using var server = await TestServer.StartAsync();
        using (var socket = await ConnectAsync(server.Server))
        {
            await socket.SendAsync(new byte[320], WebSocketMessageType.Binary, true, CancellationToken.None);
            var error = (await ReceiveAsync(socket))!.Value;
            Assert.Equal("INVALID_ARGUMENT", error.GetProperty("code").GetString());
            Assert.Contains("config", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Null(await ReceiveAsync(socket));
            Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, socket.CloseStatus);
        }
        using (var socket = await ConnectAsync(server.Server))
        {
            await SendTextAsync(
                socket,
                Config("{\"encoding\":\"LINEAR16\",\"sampleRateHertz\":96000,\"audioChannelCount\":1}")
            );
            var error = (await ReceiveAsync(socket))!.Value;
            Assert.Equal("INVALID_ARGUMENT", error.GetProperty("code").GetString());
            Assert.Contains("8000", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(0, server.Server.LiveStreams);
    }

    [SkippableFact]
    public async Task Browser_and_gRPC_streams_share_the_server_stream_limit()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxConcurrentStreams = 1);
        await using var grpc = server.Client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser
        );
        await grpc.WriteAsync(new StreamingRecognizeRequest { Config = TestServer.MulawStereo() });
        await Wait.UntilAsync(
            () => server.Server.LiveStreams == 1,
            TimeSpan.FromSeconds(10),
            () => "no stream"
        );

        using var socket = await ConnectAsync(server.Server);
        await SendTextAsync(socket, Config(MulawStereoConfig));
        var error = (await ReceiveAsync(socket))!.Value;
        Assert.Equal("RESOURCE_EXHAUSTED", error.GetProperty("code").GetString());
        Assert.Null(await ReceiveAsync(socket));
        Assert.Equal(1013, (int)socket.CloseStatus!.Value);
    }

    [SkippableFact]
    public async Task A_dropped_stereo_recording_is_analysed_per_channel()
    {
        var wav = CallSlice(0, 20, mono: false);
        await using var server = await TestServer.StartAsync();
        using var http = Http(server.Server);
        using var response = await http.PostAsync(
            FileAnalysisEndpoint.Path + "?name=call.wav",
            new ByteArrayContent(wav)
        );
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, result.GetProperty("channels").GetInt32());
        Assert.Equal(20, result.GetProperty("duration_s").GetDouble(), 0);
        var events = result.GetProperty("events").EnumerateArray().ToList();
        foreach (var channel in new[] { 0, 1 })
        {
            Assert.Contains(events, e => e.GetProperty("channel").GetInt32() == channel);
            Assert.Contains(
                result.GetProperty("speech").EnumerateArray(),
                s => s.GetProperty("channel").GetInt32() == channel
            );
        }
        Assert.All(
            events,
            e =>
            {
                Assert.True(e.GetProperty("final").GetBoolean());
                Assert.Equal("call.wav", e.GetProperty("file").GetString());
                Assert.Contains(e.GetProperty("label").GetString(), server.Engine.Classifier.Manifest.Labels);
            }
        );

        using var garbage = await http.PostAsync(
            FileAnalysisEndpoint.Path,
            new ByteArrayContent(new byte[4096])
        );
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task The_dashboard_feed_pushes_gRPC_streams_as_they_open_and_close()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        await using var server = await TestServer.StartAsync();
        using var http = Http(server.Server);
        using var feed = await http.GetAsync(
            DashboardEndpoint.LivePath,
            HttpCompletionOption.ResponseHeadersRead
        );
        Assert.Equal("text/event-stream", feed.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await feed.Content.ReadAsStreamAsync());

        async Task<JsonElement> NextSnapshotAsync(Func<JsonElement, bool> until)
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (true)
            {
                var line = await reader.ReadLineAsync(cancel.Token);
                Assert.NotNull(line);
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var snapshot = JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
                    if (until(snapshot))
                    {
                        return snapshot;
                    }
                }
            }
        }

        static int Count(JsonElement s) => s.GetProperty("streams").GetArrayLength();
        Assert.Equal(0, Count(await NextSnapshotAsync(_ => true)));

        await using var call = server.Client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser
        );
        await call.WriteAsync(new StreamingRecognizeRequest { Config = TestServer.MulawStereo() });
        for (var offset = 0; offset < 20 * 16000; offset += 1600)
        {
            await call.WriteAsync(
                new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio, offset, 1600) }
            );
        }
        var withFinals = await NextSnapshotAsync(s =>
            Count(s) == 1
            && s.GetProperty("streams")[0].GetProperty("last_final").ValueKind == JsonValueKind.Object
        );
        var stream = withFinals.GetProperty("streams")[0];
        Assert.Equal("grpc", stream.GetProperty("source").GetString());
        Assert.StartsWith("grpc-", stream.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(
            ["agent", "customer"],
            stream.GetProperty("channels").EnumerateArray().Select(c => c.GetProperty("name").GetString())
        );
        Assert.Contains(
            stream.GetProperty("last_final").GetProperty("label").GetString(),
            server.Engine.Classifier.Manifest.Labels
        );
        // Labels and times only: nothing that could carry audio or words.
        Assert.DoesNotContain("audio", stream.GetRawText(), StringComparison.OrdinalIgnoreCase);

        await call.CompleteRequestAsync();
        while (await call.ReadAsync() is not null) { }
        Assert.Equal(0, Count(await NextSnapshotAsync(s => Count(s) == 0)));
    }

    [SkippableFact]
    public async Task Over_TLS_pages_and_the_WebSocket_work_on_the_gRPC_port()
    {
        var dir = Directory.CreateTempSubdirectory("ser-web-tls-").FullName;
        try
        {
            var Trust = await SelfSignedAsync(dir);
            var tls = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => Trust(c) },
            };
            await using var server = await TestServer.StartAsync(
                o =>
                {
                    o.TlsCertificate = Path.Combine(dir, "cert.pem");
                    o.TlsKey = Path.Combine(dir, "key.pem");
                },
                handler: tls
            );
            // The TLS port speaks HTTP/2 only, as browsers do with it (ALPN): pages and the WebSocket too.
            using var handler = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => Trust(c) },
            };
            using var http = new HttpClient(handler, disposeHandler: false)
            {
                BaseAddress = server.Server.Address,
                DefaultRequestVersion = System.Net.HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            var page = await http.GetStringAsync("/");
            Assert.Contains("Input device", page, StringComparison.Ordinal);
            Assert.True(
                (await http.GetFromJsonAsync<JsonElement>(WebEndpoints.InfoPath))
                    .GetProperty("tls")
                    .GetBoolean()
            );

            using var socket = new ClientWebSocket();
            socket.Options.HttpVersion = System.Net.HttpVersion.Version20;
            socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
            socket.Options.SetRequestHeader("Origin", $"https://127.0.0.1:{server.Server.Port}");
            using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
            await socket.ConnectAsync(
                new Uri($"wss://127.0.0.1:{server.Server.Port}{BrowserStreamEndpoint.Path}"),
                invoker,
                CancellationToken.None
            );
            await SendTextAsync(socket, Config(MulawStereoConfig));
            Assert.Equal("ready", Event((await ReceiveAsync(socket))!.Value));
            // gRPC on the same TLS port as before.
            Assert.Equal(
                global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
                await server.CheckAsync()
            );
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [SkippableFact]
    public async Task With_the_web_off_the_port_speaks_HTTP_2_only()
    {
        await using var server = await TestServer.StartAsync(o => o.Web = false);
        using var http = Http(server.Server);
        http.Timeout = TimeSpan.FromSeconds(10);
        var failed = false;
        try
        {
            using var r = await http.GetAsync("/");
            failed = !r.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            failed = true;
        }
        Assert.True(failed, "GET / over HTTP/1.1 should not be served with Web off");
        var models = await server.Client.UnaryAsync(
            EmotionService.ListModelsPath,
            new ListModelsRequest(),
            ListModelsResponse.Parser
        );
        Assert.Single(models.Models);
    }
}
