using System.Diagnostics;
using System.Net;
using RealtimeSer.Server.Tests.Web;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>Uploads are analysed a bounded number at a time, so the pages and /metrics stay quick meanwhile.</summary>
[Collection(RobustnessCollection.Name)]
public sealed class UploadLoadTests(ITestOutputHelper output)
{
    private const int Uploads = 20;

    [SkippableFact]
    public async Task Twenty_concurrent_uploads_of_the_call_leave_the_pages_and_metrics_quick()
    {
        // The 3-minute fixture call as telephony audio (8 kHz μ-law stereo, 3 MB), the form a call centre uploads.
        var call = await File.ReadAllBytesAsync(TestPaths.RequireCallFixture());
        await using var server = await TestServer.StartAsync();
        using var http = WebTestSupport.Http(server.Server);
        http.Timeout = TimeSpan.FromMinutes(5);
        using var metrics = new HttpClient
        {
            BaseAddress = new Uri($"http://127.0.0.1:{server.Server.MetricsPort}"),
        };
        // Warm both paths first: the first request of each compiles and connects.
        (await http.GetAsync("/")).EnsureSuccessStatusCode();
        (await metrics.GetAsync("/metrics")).EnsureSuccessStatusCode();

        using var stop = new CancellationTokenSource();
        var uploads = Enumerable
            .Range(0, Uploads)
            .Select(i => UploadAsync(http, call, $"call{i}.wav", stop.Token))
            .ToList();
        var page = new List<double>();
        var scrape = new List<double>();
        var watch = Stopwatch.StartNew();
        // Samples while uploads run, one request at a time, as a user and a scraper: eight seconds' worth, and
        // until two recordings are analysed (the rest are then cancelled: the bar is about the time under load).
        while (
            watch.Elapsed < TimeSpan.FromSeconds(8)
            || uploads.Count(u => u.IsCompleted) < 2 + Refusals(server)
        )
        {
            page.Add(await TimeAsync(() => http.GetAsync("/")));
            scrape.Add(await TimeAsync(() => metrics.GetAsync("/metrics")));
            await Task.Delay(50);
        }
        await stop.CancelAsync();
        var answers = await Task.WhenAll(uploads);
        var ok = answers.Count(a => a == HttpStatusCode.OK);
        var busy = answers.Count(a => a == HttpStatusCode.TooManyRequests);
        output.WriteLine(
            $"GET / p95 {P95(page):F0} ms, /metrics p95 {P95(scrape):F0} ms over {page.Count} samples; {ok} analysed, {busy} refused as busy"
        );
        // Those beyond the running ones and the queue are refused at once; at least two were analysed.
        Assert.Equal(Refusals(server), busy);
        Assert.True(ok >= 2, $"{ok} analysed");
        Assert.True(P95(page) < 200, $"GET / p95 {P95(page):F0} ms");
        Assert.True(P95(scrape) < 200, $"/metrics p95 {P95(scrape):F0} ms");
        await server.WaitForNoStreamsAsync();
    }

    private static int Refusals(TestServer server) =>
        Math.Max(
            0,
            Uploads - server.Server.Options.MaxConcurrentUploads - server.Server.Options.MaxQueuedUploads
        );

    /// <summary>The answer's status; null when the test cancelled the upload.</summary>
    private static async Task<HttpStatusCode?> UploadAsync(
        HttpClient http,
        byte[] call,
        string name,
        CancellationToken token
    )
    {
        try
        {
            using var response = await http.PostAsync(
                FileAnalysisEndpoint.Path + "?name=" + name,
                new ByteArrayContent(call),
                token
            );
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.NotNull(response.Headers.RetryAfter);
            }
            return response.StatusCode;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return null;
        }
    }

    [SkippableFact]
    public async Task The_private_upload_folder_goes_when_the_server_stops()
    {
        // This collection runs alone, so no other server makes such a folder meanwhile.
        static HashSet<string> Folders() =>
            [.. Directory.GetDirectories(Path.GetTempPath(), "ser-uploads-*")];
        var before = Folders();
        var server = await TestServer.StartAsync();
        List<string> made;
        try
        {
            using var http = WebTestSupport.Http(server.Server);
            using var response = await http.PostAsync(
                FileAnalysisEndpoint.Path + "?name=call.wav",
                new ByteArrayContent(WebTestSupport.CallSlice(0, 4, mono: true))
            );
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            made = [.. Folders().Except(before)];
            Assert.Single(made);
            Assert.Empty(Directory.EnumerateFileSystemEntries(made[0])); // the upload went once analysed
        }
        finally
        {
            await server.DisposeAsync();
        }
        Assert.False(Directory.Exists(made[0]), $"{made[0]} was left behind");
    }

    private static async Task<double> TimeAsync(Func<Task<HttpResponseMessage>> request)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await request();
        await response.Content.ReadAsByteArrayAsync();
        response.EnsureSuccessStatusCode();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static double P95(List<double> samples)
    {
        Assert.NotEmpty(samples);
        return Streams.Percentile(samples, 0.95);
    }
}
