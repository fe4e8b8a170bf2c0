using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>
/// docs/security.md's access table is the contract: every row's Host, Origin and key rule is checked here
/// against a localhost server with API keys, by requests written byte for byte (so the Host header is the
/// test's to choose).
/// </summary>
public sealed class AccessRuleTests
{
    private const string Key = "k3y";
    private const string EvilOrigin = "http://evil.example";

    public enum Outcome
    {
        Served,
        Forbidden,
        Unauthenticated,
    }

    public sealed record Rule(string Path, string Method, string Host, string Origin, string Key)
    {
        public override string ToString() => $"{Method} {Path}";
    }

    public static TheoryData<string> Rows() => [.. Table().Select(r => r.ToString())];

    [SkippableTheory]
    [MemberData(nameof(Rows))]
    public async Task Each_endpoint_applies_the_documented_Host_Origin_and_key_rules(string row)
    {
        var rule = Table().Single(r => r.ToString() == row);
        await using var server = await TestServer.StartAsync(o =>
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash(Key)]
        );
        var port = rule.Method.Contains("metrics port", StringComparison.Ordinal)
            ? server.Server.MetricsPort!.Value
            : server.Server.Port;
        var own = $"127.0.0.1:{port}";
        var ownOrigin = $"http://{own}";

        Assert.Equal(Outcome.Served, await ProbeAsync(rule, port, own, ownOrigin, Key));
        Assert.Equal(Outcome.Served, await ProbeAsync(rule, port, own, origin: null, Key));
        Assert.Equal(Outcome.Served, await ProbeAsync(rule, port, $"localhost:{port}", origin: null, Key));
        Assert.Equal(
            rule.Host == "loopback" ? Outcome.Forbidden : Outcome.Served,
            await ProbeAsync(rule, port, $"evil.example:{port}", origin: null, Key)
        );
        Assert.Equal(
            rule.Origin == "own" ? Outcome.Forbidden : Outcome.Served,
            await ProbeAsync(rule, port, own, EvilOrigin, Key)
        );
        Assert.Equal(
            rule.Key == "required" ? Outcome.Unauthenticated : Outcome.Served,
            await ProbeAsync(rule, port, own, ownOrigin, key: null)
        );
    }

    [Fact]
    public void The_table_covers_every_kind_of_endpoint()
    {
        var rows = Table();
        Assert.True(rows.Count >= 12, $"{rows.Count} rows");
        foreach (var method in new[] { "GET, HEAD", "GET", "POST", "WebSocket", "gRPC-Web", "gRPC" })
        {
            Assert.Contains(rows, r => r.Method == method);
        }
        Assert.All(rows, r => Assert.Contains(r.Host, new[] { "loopback", "any" }));
        Assert.All(rows, r => Assert.Contains(r.Origin, new[] { "own", "any" }));
        Assert.All(rows, r => Assert.Contains(r.Key, new[] { "required", "none" }));
    }

    private static List<Rule> Table()
    {
        var doc = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "security.md"));
        var begin = doc.IndexOf("<!-- access-table: begin -->", StringComparison.Ordinal);
        var end = doc.IndexOf("<!-- access-table: end -->", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "docs/security.md has no access table");
        return
        [
            .. doc[begin..end]
                .Split('\n')
                .Where(l => l.StartsWith("| `", StringComparison.Ordinal))
                .Select(l => l.Split('|').Select(c => c.Trim()).ToArray())
                .Select(c => new Rule(c[1].Trim('`'), c[2], c[3], c[4], c[5])),
        ];
    }

    private static async Task<Outcome> ProbeAsync(
        Rule rule,
        int port,
        string host,
        string? origin,
        string? key
    )
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        if (rule.Method == "gRPC")
        {
            return await NativeGrpcAsync(rule.Path, port, host, origin, key, cancel.Token);
        }
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port, cancel.Token);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var method = rule.Method switch
        {
            "POST" or "gRPC-Web" => "POST",
            _ => "GET",
        };
        var headers = new StringBuilder($"{method} {rule.Path} HTTP/1.1\r\nHost: {host}\r\n");
        if (origin is not null)
        {
            headers.Append($"Origin: {origin}\r\n");
        }
        if (key is not null)
        {
            headers.Append($"Authorization: Bearer {key}\r\n");
        }
        byte[] body = [];
        switch (rule.Method)
        {
            case "WebSocket":
                var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
                headers.Append(
                    $"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n"
                );
                break;
            case "gRPC-Web":
                // An empty ListModelsRequest in gRPC framing.
                body = [0, 0, 0, 0, 0];
                headers.Append("Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n");
                break;
            case "POST":
                // A short WAV: enough to pass every check before the audio is read.
                body = WebTestSupport.Wav(new byte[3200], 16000, 1);
                break;
        }
        if (rule.Method != "WebSocket")
        {
            headers.Append($"Content-Length: {body.Length}\r\nConnection: close\r\n");
        }
        headers.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(headers.ToString()), cancel.Token);
        await stream.WriteAsync(body, cancel.Token);
        var (status, responseHeaders) = await ReadHeadAsync(stream, cancel.Token);
        switch (status)
        {
            case 403:
                return Outcome.Forbidden;
            case 401:
                return Outcome.Unauthenticated;
            case 101 when rule.Method == "WebSocket":
                return await WebSocketOutcomeAsync(stream, cancel.Token);
            case 200 when rule.Method == "gRPC-Web":
                return responseHeaders.GetValueOrDefault("grpc-status") switch
                {
                    "16" => Outcome.Unauthenticated,
                    "7" => Outcome.Forbidden,
                    _ => Outcome.Served,
                };
            case >= 200 and < 300:
                return Outcome.Served;
            default:
                throw new InvalidOperationException($"{rule}: HTTP {status}");
        }
    }

    /// <summary>The first message after the config says whether the stream was admitted.</summary>
    private static async Task<Outcome> WebSocketOutcomeAsync(Stream stream, CancellationToken token)
    {
        using var socket = WebSocket.CreateFromStream(
            stream,
            new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero }
        );
        await socket.SendAsync(
            "{\"config\":{\"encoding\":\"LINEAR16\",\"sampleRateHertz\":16000}}"u8.ToArray(),
            WebSocketMessageType.Text,
            true,
            token
        );
        var buffer = new byte[16 * 1024];
        var received = await socket.ReceiveAsync(buffer, token);
        var reply = JsonDocument.Parse(buffer.AsMemory(0, received.Count)).RootElement;
        return WebTestSupport.Event(reply) switch
        {
            "ready" => Outcome.Served,
            "error" when reply.GetProperty("code").GetString() == "UNAUTHENTICATED" =>
                Outcome.Unauthenticated,
            var other => throw new InvalidOperationException($"WebSocket answered {other}: {reply}"),
        };
    }

    private static async Task<Outcome> NativeGrpcAsync(
        string path,
        int port,
        string host,
        string? origin,
        string? key,
        CancellationToken token
    )
    {
        using var http = new HttpClient(new SocketsHttpHandler());
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}{path}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.ContentType = new("application/grpc");
        request.Headers.Host = host;
        request.Headers.TE.ParseAdd("trailers");
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }
        using var response = await http.SendAsync(request, token);
        if (response.StatusCode == HttpStatusCode.Forbidden)
        {
            return Outcome.Forbidden;
        }
        await response.Content.ReadAsByteArrayAsync(token);
        var status =
            response.TrailingHeaders.TryGetValues("grpc-status", out var t) ? t.Single()
            : response.Headers.TryGetValues("grpc-status", out var h) ? h.Single()
            : "?";
        return status switch
        {
            "0" => Outcome.Served,
            "16" => Outcome.Unauthenticated,
            "7" => Outcome.Forbidden,
            _ => throw new InvalidOperationException($"gRPC {path} answered grpc-status {status}"),
        };
    }

    private static async Task<(int Status, Dictionary<string, string> Headers)> ReadHeadAsync(
        Stream stream,
        CancellationToken token
    )
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, token) == 0)
            {
                throw new IOException($"connection closed after: {head}");
            }
            head.Append((char)one[0]);
        }
        var lines = head.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines
            .Skip(1)
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0].Trim(), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First()[1].Trim(), StringComparer.OrdinalIgnoreCase);
        return (status, headers);
    }
}
