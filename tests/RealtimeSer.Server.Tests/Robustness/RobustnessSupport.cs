using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Fakes;
using RealtimeSer.Tests.Shared;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// The robustness tests measure memory, handles and latency of the whole process, so they run one at a time
/// and after the parallel tests, never beside another test's load.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RobustnessCollection
{
    public const string Name = "Robustness (serial)";
}

/// <summary>The fake model with an artificial cost per batch, so "capacity" is small and deterministic.</summary>
internal sealed class SlowClassifier(TimeSpan perBatch) : IEmotionClassifier
{
    private readonly FakeClassifier _inner = new();
    private long _batches;
    private long _windows;

    public ModelManifest Manifest => _inner.Manifest;

    public long Batches => Interlocked.Read(ref _batches);

    public long Windows => Interlocked.Read(ref _windows);

    public async ValueTask ClassifyAsync(
        Memory<float> windows,
        int count,
        Memory<float> probabilities,
        CancellationToken cancellationToken = default
    )
    {
        await Task.Delay(perBatch, cancellationToken); // the model's cost: real time is the point
        await _inner.ClassifyAsync(windows, count, probabilities, cancellationToken);
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _windows, count);
    }

    public void Dispose() { }
}

internal static class Wait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan within, Func<string> describe)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            Assert.True(
                Stopwatch.GetTimestamp() < deadline,
                $"not reached within {within.TotalSeconds:F0} s: {describe()}"
            );
            await Task.Delay(20);
        }
    }
}

/// <summary>Managed heap, working set and open handles of this process.</summary>
internal readonly record struct ResourceSample(long HeapBytes, long WorkingSetBytes, int Handles, int Fds)
{
    public static ResourceSample Take(bool collect = true)
    {
        if (collect)
        {
            // Compact the large object heap too: otherwise its free gaps count as heap and hide what is live.
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        var heap = GC.GetTotalMemory(forceFullCollection: collect);
        using var process = Process.GetCurrentProcess();
        var fds = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : -1;
        return new(heap, process.WorkingSet64, process.HandleCount, fds);
    }

    public override string ToString() =>
        $"heap {HeapBytes / 1048576.0:F1} MiB, working set {WorkingSetBytes / 1048576.0:F1} MiB, {Handles} handles, {Fds} fds";
}

/// <summary>
/// One gRPC call with a request body of arbitrary bytes (the real HTTP/2 client on loopback), so tests can
/// send frames no well-behaved client would. Returns the call's gRPC status.
/// </summary>
internal sealed class RawGrpcClient : IDisposable
{
    private readonly HttpClient _http;

    public RawGrpcClient(Uri address) =>
        _http = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
        {
            BaseAddress = address,
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public async Task<Status> CallAsync(
        string path,
        IReadOnlyList<ReadOnlyMemory<byte>> chunks,
        CancellationToken cancellationToken,
        string contentType = "application/grpc",
        TimeSpan? pause = null
    ) => (await CallWithBodyAsync(path, chunks, cancellationToken, contentType, pause)).Status;

    /// <summary>A call's status and its response body as sent (length-prefixed frames).</summary>
    public async Task<(Status Status, byte[] Body)> CallWithBodyAsync(
        string path,
        IReadOnlyList<ReadOnlyMemory<byte>> chunks,
        CancellationToken cancellationToken,
        string contentType = "application/grpc",
        TimeSpan? pause = null
    )
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ChunkContent(chunks, contentType, pause),
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        try
        {
            using var response = await _http.SendAsync(
                request,
                HttpCompletionOption.ResponseHeadersRead,
                cancellationToken
            );
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return (new Status(StatusCode.Unknown, $"HTTP {(int)response.StatusCode}"), []);
            }
            if (Status(response.Headers) is { } trailersOnly)
            {
                return (trailersOnly, []);
            }
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            return (
                Status(response.TrailingHeaders)
                    ?? new Status(StatusCode.Unknown, "no grpc-status in trailers"),
                body
            );
        }
        catch (HttpRequestException e)
        {
            return (new Status(StatusCode.Unavailable, "transport: " + e.Message), []);
        }
    }

    private static Status? Status(HttpHeaders headers)
    {
        if (!headers.TryGetValues("grpc-status", out var codes))
        {
            return null;
        }
        var detail = headers.TryGetValues("grpc-message", out var m) ? Uri.UnescapeDataString(m.First()) : "";
        return new Status(
            (StatusCode)int.Parse(codes.First(), System.Globalization.CultureInfo.InvariantCulture),
            detail
        );
    }

    public void Dispose() => _http.Dispose();

    private sealed class ChunkContent : HttpContent
    {
        private readonly IReadOnlyList<ReadOnlyMemory<byte>> _chunks;
        private readonly TimeSpan? _pause;

        public ChunkContent(IReadOnlyList<ReadOnlyMemory<byte>> chunks, string contentType, TimeSpan? pause)
        {
            _chunks = chunks;
            _pause = pause;
            Headers.TryAddWithoutValidation("content-type", contentType);
        }

        protected override async Task SerializeToStreamAsync(
            Stream stream,
            TransportContext? context,
            CancellationToken cancellationToken
        )
        {
            try
            {
                foreach (var chunk in _chunks)
                {
                    await stream.WriteAsync(chunk, cancellationToken);
                    await stream.FlushAsync(cancellationToken);
                    if (_pause is { } p)
                    {
                        await Task.Delay(p, cancellationToken); // pacing: a slow sender is the point
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // The server ended the call before the body was sent: its status is in the response.
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

internal static class Frames
{
    public static byte[] Of(IMessage message) => FrameMutator.Frame(message.ToByteArray());

    public static RecognitionConfig MulawMono() =>
        new()
        {
            Encoding = AudioEncoding.Mulaw,
            SampleRateHertz = 8000,
            AudioChannelCount = 1,
            InterimResults = true,
        };

    public static int CasesFromEnvironment(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("REALTIMESER_FUZZ_CASES"), out var n) && n > 0
            ? n
            : fallback;
}

/// <summary>What a client may see of a call the server ends because it is shutting down.</summary>
internal static class ShutdownStatus
{
    /// <summary>
    /// UNAVAILABLE "shutting down", or one of the two forms of Kestrel's own race (dotnet/aspnetcore#41074)
    /// that can hide it; never a reset stream (CANCELLED), which is what our part must avoid.
    /// </summary>
    public static void AssertEndedForShutdown(Status status)
    {
        if (status.StatusCode == StatusCode.Internal)
        {
            // Kestrel disposes the socket right after its last GOAWAY, and the window updates the client sends
            // while it drains make the kernel reset the connection, which can discard the UNAVAILABLE trailers
            // already sent. The client then reports the GOAWAY's NO_ERROR.
            Assert.Contains("closed the connection", status.Detail, StringComparison.Ordinal);
            Assert.Contains("NO_ERROR", status.Detail, StringComparison.Ordinal);
            return;
        }
        Assert.Equal(StatusCode.Unavailable, status.StatusCode);
        if (status.Detail.StartsWith("Error reading next message", StringComparison.Ordinal))
        {
            // The same race seen from the client's side: the socket went before the trailers were read, and the
            // client reports its own transport error (a broken pipe or reset) as UNAVAILABLE, which tells it
            // to reconnect, as "shutting down" would.
            Assert.Matches("Broken pipe|reset by peer|aborted", status.Detail);
            return;
        }
        Assert.Contains("shutting down", status.Detail, StringComparison.Ordinal);
    }
}

/// <summary>A streaming call's outcome and the client-side view of it.</summary>
internal sealed record StreamOutcome(
    List<StreamingRecognizeResponse> Responses,
    Status Status,
    TimeSpan Elapsed
)
{
    public IEnumerable<EmotionResult> Results =>
        Responses.Where(r => r.Result is not null).Select(r => r.Result);

    public long Dropped =>
        Responses.LastOrDefault(r => r.StreamStats is not null)?.StreamStats.WindowsDropped ?? 0;

    public long Classified =>
        Responses.LastOrDefault(r => r.StreamStats is not null)?.StreamStats.WindowsClassified ?? 0;
}

internal static class Streams
{
    public const int MulawStereoBytesPerSecond = 16000;

    public static byte[] Slice(byte[] audio, double startSeconds, double seconds)
    {
        var start = (int)(startSeconds * MulawStereoBytesPerSecond) & ~1;
        start = Math.Min(start, audio.Length);
        var length = Math.Min((int)(seconds * MulawStereoBytesPerSecond) & ~1, audio.Length - start);
        return audio.AsSpan(start, length).ToArray();
    }

    public static RecognitionConfig MulawStereo() =>
        new()
        {
            Encoding = AudioEncoding.Mulaw,
            SampleRateHertz = 8000,
            AudioChannelCount = 2,
            InterimResults = true,
        };

    /// <summary>Streams audio in 100 ms messages, paced at real time or as fast as flow control allows.</summary>
    public static async Task<StreamOutcome> RunAsync(
        TestClient client,
        RecognitionConfig config,
        byte[] audio,
        bool paced,
        int bytesPer100Ms = MulawStereoBytesPerSecond / 10,
        CancellationToken cancellationToken = default
    )
    {
        var clock = Stopwatch.StartNew();
        await using var call = client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser,
            cancellationToken: cancellationToken
        );
        var responses = new List<StreamingRecognizeResponse>();
        var reading = Task.Run(
            async () =>
            {
                try
                {
                    while (await call.ReadAsync() is { } r)
                    {
                        responses.Add(r);
                    }
                    return Status.DefaultSuccess;
                }
                catch (RpcException e)
                {
                    return e.Status;
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    // Grpc.Net.Client's view of an HTTP/2 stream the server reset with CANCEL.
                    return new Status(StatusCode.Cancelled, "reset by the server: " + e.Message);
                }
            },
            CancellationToken.None
        );
        if (await call.WriteAsync(new StreamingRecognizeRequest { Config = config }))
        {
            for (var offset = 0; offset < audio.Length; offset += bytesPer100Ms)
            {
                var n = Math.Min(bytesPer100Ms, audio.Length - offset);
                if (
                    !await call.WriteAsync(
                        new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio, offset, n) }
                    )
                )
                {
                    break;
                }
                if (paced)
                {
                    var due = TimeSpan.FromMilliseconds((offset + n) / (double)bytesPer100Ms * 100);
                    var wait = due - clock.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, cancellationToken); // pacing at real time
                    }
                }
            }
        }
        await call.CompleteRequestAsync();
        var status = await reading;
        return new StreamOutcome(responses, status, clock.Elapsed);
    }

    public static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length == 0
            ? 0
            : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }
}
