using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests;

/// <summary>
/// /metrics as an independent scraper reads it: Prometheus names and units, and the calls counter, which must
/// count refusals, rate limits and client cancellations with the status the client really got.
/// </summary>
public sealed class MetricsTests(ITestOutputHelper output)
{
    private const string ListModels = "realtime_ser.v1.EmotionRecognizer/ListModels";
    private const string StreamingRecognize = "realtime_ser.v1.EmotionRecognizer/StreamingRecognize";

    [SkippableFact]
    public async Task Names_follow_Prometheus_conventions_with_seconds_and_one_active_streams_gauge()
    {
        await using var server = await TestServer.StartAsync();
        var text = await Scrape.TextAsync(server);
        output.WriteLine(text);
        var names = Scrape.Families(text);
        Assert.DoesNotContain(names, n => n.EndsWith("_ms", StringComparison.Ordinal));
        Assert.DoesNotContain("ser_streams_active", names);
        Assert.Single(names, n => n.StartsWith("ser_streams_", StringComparison.Ordinal));
        Assert.Contains("# TYPE ser_streams_admitted gauge", text, StringComparison.Ordinal);
        Assert.Contains(
            "# TYPE ser_admission_live_latency_p95_seconds gauge",
            text,
            StringComparison.Ordinal
        );
        Assert.Equal(0, Scrape.Value(text, "ser_streams_admitted"));
        Assert.Equal(1, Scrape.Value(text, "ser_serving"));
    }

    [SkippableFact]
    public async Task An_unauthenticated_call_is_counted_as_UNAUTHENTICATED()
    {
        await using var server = await TestServer.StartAsync(o =>
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash("the-key")]
        );
        var before = await Scrape.TextAsync(server);
        Assert.Equal(0, Calls(before, ListModels, "UNAUTHENTICATED"));
        server.Client.Headers["authorization"] = "Bearer wrong-key";
        var error = await Assert.ThrowsAsync<RpcException>(() => List(server.Client));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        server.Client.Headers["authorization"] = "Bearer the-key";
        await List(server.Client);

        var after = await Scrape.TextAsync(server);
        Assert.Equal(1, Calls(after, ListModels, "UNAUTHENTICATED"));
        Assert.Equal(1, Calls(after, ListModels, "OK"));
    }

    [SkippableFact]
    public async Task A_rate_limited_unary_call_is_counted_and_carries_a_retry_hint()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash("the-key")];
            o.RequestsPerSecondPerKey = 0.5;
            o.RequestBurstPerKey = 1;
        });
        server.Client.Headers["authorization"] = "Bearer the-key";
        await List(server.Client);
        var limited = await Assert.ThrowsAsync<RpcException>(() => List(server.Client));
        Assert.Equal(StatusCode.ResourceExhausted, limited.StatusCode);
        var hint = limited.Trailers.GetValue("retry-after-ms");
        output.WriteLine($"{limited.Status.Detail} (retry-after-ms: {hint})");
        Assert.NotNull(hint);
        // The bucket refills one call in 2 s: the hint says how much of that is left.
        Assert.InRange(long.Parse(hint, CultureInfo.InvariantCulture), 1, 2000);

        var text = await Scrape.TextAsync(server);
        Assert.Equal(1, Calls(text, ListModels, "RESOURCE_EXHAUSTED"));
        Assert.Equal(1, Calls(text, ListModels, "OK"));
    }

    [SkippableFact]
    public async Task An_overload_refusal_carries_the_admission_window_as_its_retry_hint()
    {
        await using var server = await LoadGovernorTests.StartOverloadedAsync(windowSeconds: 3);
        await using var call = server.Client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser
        );
        await call.WriteAsync(new StreamingRecognizeRequest { Config = TestServer.MulawStereo() });
        var refused = await Assert.ThrowsAsync<RpcException>(() => DrainAsync(call));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal("3000", refused.Trailers.GetValue("retry-after-ms"));
    }

    [SkippableFact]
    public async Task Each_server_exports_only_its_own_series()
    {
        await using var refusing = await TestServer.StartAsync(o =>
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash("the-key")]
        );
        await using var other = await TestServer.StartAsync();
        await Assert.ThrowsAsync<RpcException>(() => List(refusing.Client));
        await List(other.Client);

        var mine = await Scrape.TextAsync(refusing);
        var theirs = await Scrape.TextAsync(other);
        Assert.Equal(1, Calls(mine, ListModels, "UNAUTHENTICATED"));
        Assert.Equal(0, Calls(mine, ListModels, "OK"));
        Assert.Equal(0, Calls(theirs, ListModels, "UNAUTHENTICATED"));
        Assert.Equal(1, Calls(theirs, ListModels, "OK"));
        Assert.Single(Regex.Matches(theirs, "^ser_streams_admitted", RegexOptions.Multiline));
    }

    [SkippableFact]
    public async Task A_stream_the_client_cancels_is_counted_as_CANCELLED()
    {
        await using var server = await TestServer.StartAsync();
        using var cancel = new CancellationTokenSource();
        await using var call = await OpenStreamAsync(server, timeout: null, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => DrainAsync(call));

        var text = await ScrapeUntilAsync(server, StreamingRecognize, "CANCELLED");
        Assert.Equal(1, Calls(text, StreamingRecognize, "CANCELLED"));
        Assert.Equal(0, Calls(text, StreamingRecognize, "INTERNAL"));
        Assert.Equal(0, Calls(text, StreamingRecognize, "OK"));
    }

    [SkippableFact]
    public async Task A_stream_past_its_deadline_is_counted_as_DEADLINE_EXCEEDED()
    {
        await using var server = await TestServer.StartAsync();
        // Long enough for the first stats (a second in) to arrive on a busy machine before the deadline passes.
        await using var call = await OpenStreamAsync(server, TimeSpan.FromSeconds(4), CancellationToken.None);
        // The test client reports a passed deadline as a cancellation (ThrowOperationCanceledOnCancellation),
        // unless the server's DEADLINE_EXCEEDED reaches it before its own timer fires (seen once under load).
        var error = await Assert.ThrowsAnyAsync<Exception>(() => DrainAsync(call));
        Assert.True(
            error is OperationCanceledException or RpcException { StatusCode: StatusCode.DeadlineExceeded },
            $"expected the deadline to end the call, got {error}"
        );

        var text = await ScrapeUntilAsync(server, StreamingRecognize, "DEADLINE_EXCEEDED");
        Assert.Equal(1, Calls(text, StreamingRecognize, "DEADLINE_EXCEEDED"));
        Assert.Equal(0, Calls(text, StreamingRecognize, "CANCELLED"));
    }

    /// <summary>A stream with its config and some audio, open on the server (its first stats, every second, arrived).</summary>
    private static async Task<StreamingCall<IMessage, StreamingRecognizeResponse>> OpenStreamAsync(
        TestServer server,
        TimeSpan? timeout,
        CancellationToken cancellationToken
    )
    {
        var call = server.Client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser,
            timeout,
            cancellationToken
        );
        await call.WriteAsync(new StreamingRecognizeRequest { Config = TestServer.MulawStereo() });
        await call.WriteAsync(
            new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(new byte[1600]) }
        );
        Assert.NotNull(await call.ReadAsync());
        return call;
    }

    private static async Task DrainAsync(StreamingCall<IMessage, StreamingRecognizeResponse> call)
    {
        while (await call.ReadAsync() is not null) { }
    }

    /// <summary>The server counts a call once its handler has unwound, a moment after the client saw the end.</summary>
    private async Task<string> ScrapeUntilAsync(TestServer server, string method, string code)
    {
        var text = await Scrape.TextAsync(server);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Calls(text, method, code) == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            text = await Scrape.TextAsync(server);
        }
        output.WriteLine(
            string.Join(
                '\n',
                text.Split('\n').Where(l => l.StartsWith("ser_grpc_calls", StringComparison.Ordinal))
            )
        );
        return text;
    }

    private static Task<ListModelsResponse> List(TestClient client) =>
        client.UnaryAsync(EmotionService.ListModelsPath, new ListModelsRequest(), ListModelsResponse.Parser);

    private static double Calls(string text, string method, string code) =>
        Scrape.Value(text, "ser_grpc_calls_total", ("method", method), ("code", code));
}

/// <summary>Reads the Prometheus text format (samples may carry a timestamp after the value).</summary>
internal static partial class Scrape
{
    public static async Task<string> TextAsync(TestServer server)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri($"http://127.0.0.1:{server.Server.MetricsPort}/metrics"));
    }

    /// <summary>The metric families (the names in # TYPE lines).</summary>
    public static IReadOnlyList<string> Families(string text) =>
        [.. TypeLine().Matches(text).Select(m => m.Groups[1].Value)];

    /// <summary>The sum of the samples of <paramref name="name"/> whose labels include all of <paramref name="labels"/>; 0 when none.</summary>
    public static double Value(string text, string name, params (string Name, string Value)[] labels)
    {
        double sum = 0;
        foreach (Match m in Sample().Matches(text))
        {
            if (m.Groups["name"].Value != name)
            {
                continue;
            }
            var have = Label()
                .Matches(m.Groups["labels"].Value)
                .ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            if (labels.All(l => have.TryGetValue(l.Name, out var v) && v == l.Value))
            {
                sum += double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }
        return sum;
    }

    [GeneratedRegex(@"^# TYPE (\S+) \S+$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(
        @"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>[^}]*)\})? (?<value>\S+)(?: \d+)?$",
        RegexOptions.Multiline
    )]
    private static partial Regex Sample();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
