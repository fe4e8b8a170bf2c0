using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// Clients that open a stream, send a little audio and vanish — by resetting the stream, by half-closing
/// and walking away, by dropping the whole connection, or by trickling bytes (slow-loris) or going quiet.
/// The server must let every one go: no admitted or engine stream left and memory back to its baseline.
/// </summary>
[Collection(RobustnessCollection.Name)]
public sealed class VanishingClientTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task A_thousand_clients_that_vanish_leave_no_stream_and_no_memory_behind()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        await using var server = await TestServer.StartAsync(o => o.MaxConcurrentStreams = 1000);
        // Warm up (JIT, pools, the connection) before the baseline.
        for (var i = 0; i < 20; i++)
        {
            await VanishAsync(server, audio, i, 0);
        }
        await server.WaitForNoStreamsAsync();
        var baseline = ResourceSample.Take();
        var clock = Stopwatch.StartNew();
        var kinds = new int[4];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, 1000),
            new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (i, _) => Interlocked.Increment(ref kinds[await VanishAsync(server, audio, i, 1)])
        );
        var vanished = clock.Elapsed;
        await server.WaitForNoStreamsAsync(TimeSpan.FromSeconds(20));
        var drained = clock.Elapsed;
        Assert.Equal(
            global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
            await server.CheckAsync()
        );
        // Sockets of dropped connections close as both ends notice; give them a moment, then sample.
        var after = ResourceSample.Take();
        for (var k = 0; k < 50 && after.Fds - baseline.Fds >= 50; k++)
        {
            await Task.Delay(200);
            after = ResourceSample.Take();
        }
        var settled = clock.Elapsed;
        var sockets = Directory
            .GetFiles("/proc/self/fd")
            .Select(f => new FileInfo(f).LinkTarget ?? "")
            .Count(t => t.StartsWith("socket:", StringComparison.Ordinal));
        output.WriteLine(
            $"1000 vanishing clients ({kinds[0]} reset, {kinds[1]} half-close and leave, {kinds[2]} connection reset, "
                + $"{kinds[3]} cancelled while reading) in {vanished.TotalSeconds:F1} s; every stream gone after {drained.TotalSeconds:F1} s; "
                + $"resources sampled at {settled.TotalSeconds:F1} s ({sockets} sockets open); "
                + $"baseline {baseline}; after {after}"
        );
        Assert.Equal(0, server.Server.LiveStreams);
        Assert.Equal(0, server.Engine.ActiveStreams);
        Assert.True(
            after.HeapBytes - baseline.HeapBytes < 16L << 20,
            $"managed heap grew {(after.HeapBytes - baseline.HeapBytes) / 1048576.0:F1} MiB"
        );
        Assert.True(
            after.WorkingSetBytes - baseline.WorkingSetBytes < 256L << 20,
            $"working set grew {(after.WorkingSetBytes - baseline.WorkingSetBytes) / 1048576.0:F1} MiB"
        );
        Assert.True(after.Fds - baseline.Fds < 50, $"{after.Fds - baseline.Fds} more open files");
    }

    /// <summary>One client that opens a stream, sends 0.1–0.5 s of audio and vanishes one of four ways.</summary>
    private static async Task<int> VanishAsync(TestServer server, byte[] audio, int i, int salt)
    {
        var random = new Random(i * 2 + salt);
        var kind = random.Next(4);
        // Kind 2 owns its connection and kills the socket, as a client process that dies would.
        System.Net.Sockets.Socket? socket = null;
        using var own =
            kind == 2
                ? new TestClient(
                    server.Server.Address,
                    new SocketsHttpHandler
                    {
                        ConnectCallback = async (context, token) =>
                        {
                            var s = new System.Net.Sockets.Socket(
                                System.Net.Sockets.SocketType.Stream,
                                System.Net.Sockets.ProtocolType.Tcp
                            )
                            {
                                NoDelay = true,
                            };
                            await s.ConnectAsync(context.DnsEndPoint, token);
                            socket = s;
                            return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
                        },
                    }
                )
                : null;
        var client = own ?? server.Client;
        using var cancel = new CancellationTokenSource();
        var call = client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser,
            cancellationToken: cancel.Token
        );
        try
        {
            await call.WriteAsync(new StreamingRecognizeRequest { Config = Streams.MulawStereo() });
            var offset = random.Next(audio.Length / 2) & ~1;
            for (var n = random.Next(1, 6); n > 0; n--)
            {
                await call.WriteAsync(
                    new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio, offset, 1600) }
                );
                offset += 1600;
            }
            switch (kind)
            {
                case 0: // reset the HTTP/2 stream
                    await call.DisposeAsync();
                    break;
                case 1: // half-close, then leave without reading the results
                    await call.CompleteRequestAsync();
                    await Task.Delay(random.Next(5));
                    await call.DisposeAsync();
                    break;
                case 2: // the whole connection goes away: the socket is reset under the client's feet
                    await Wait.UntilAsync(
                        () => Volatile.Read(ref socket) is not null,
                        TimeSpan.FromSeconds(10),
                        () => "no socket"
                    );
                    socket!.LingerState = new System.Net.Sockets.LingerOption(true, 0);
                    socket.Close();
                    await call.DisposeAsync();
                    break;
                default: // cancelled while waiting for a response
                    var reading = call.ReadAsync().AsTask();
                    await cancel.CancelAsync();
                    try
                    {
                        await reading;
                    }
                    catch (Exception e) when (e is OperationCanceledException or RpcException) { }
                    await call.DisposeAsync();
                    break;
            }
        }
        catch (Exception e)
            when (e is OperationCanceledException or RpcException or HttpRequestException or IOException)
        {
            await call.DisposeAsync();
        }
        return kind;
    }

    [SkippableFact]
    public async Task Slow_loris_and_silent_clients_are_cut_off_by_the_idle_timeout_while_real_streams_go_on()
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        // 2 s rather than 1: the honest stream below must not be cut off when the shared CI cores stall its client.
        await using var server = await TestServer.StartAsync(o => o.StreamIdleTimeoutSeconds = 2);
        using var raw = new RawGrpcClient(server.Server.Address);
        var config = Frames.Of(new Grpc.V1.StreamingRecognizeRequest { Config = Streams.MulawStereo() });
        var audioFrame = Frames.Of(
            new Grpc.V1.StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio, 0, 1600) }
        );
        var recognize = Frames.Of(
            new Grpc.V1.RecognizeRequest
            {
                Config = Streams.MulawStereo(),
                AudioContent = ByteString.CopyFrom(audio, 0, 16000),
            }
        );
        static List<ReadOnlyMemory<byte>> Bytes(byte[] prefix, byte[] trickled, int count)
        {
            var chunks = new List<ReadOnlyMemory<byte>> { prefix };
            for (var k = 0; k < Math.Min(count, trickled.Length); k++)
            {
                chunks.Add(trickled.AsMemory(k, 1));
            }
            return chunks;
        }
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var pause = TimeSpan.FromMilliseconds(300);
        var clock = Stopwatch.StartNew();
        // 1. config, then an audio frame one byte every 0.3 s; 2. the config itself trickled;
        // 3. config, then silence (the connection stays open); 4. a unary Recognize trickled.
        var loris = new[]
        {
            raw.CallAsync(
                EmotionService.StreamingRecognizePath,
                Bytes(config, audioFrame, 60),
                cancel.Token,
                pause: pause
            ),
            raw.CallAsync(
                EmotionService.StreamingRecognizePath,
                Bytes([], config, 60),
                cancel.Token,
                pause: pause
            ),
            raw.CallAsync(
                EmotionService.StreamingRecognizePath,
                [config, ReadOnlyMemory<byte>.Empty],
                cancel.Token,
                pause: TimeSpan.FromSeconds(15)
            ),
            raw.CallAsync(EmotionService.RecognizePath, Bytes([], recognize, 60), cancel.Token, pause: pause),
        }
            .Select(async t => (Status: await t, At: clock.Elapsed))
            .ToArray();
        // A well-behaved real-time stream alongside: 3 s of audio, a message every 100 ms.
        var honest = await Streams.RunAsync(
            server.Client,
            Streams.MulawStereo(),
            Streams.Slice(audio, 1, 3),
            paced: true
        );
        var results = await Task.WhenAll(loris);
        await server.WaitForNoStreamsAsync();
        output.WriteLine(
            "slow-loris with a 2 s idle timeout: "
                + string.Join(
                    "; ",
                    results.Select(r => $"{r.Status.StatusCode} after {r.At.TotalSeconds:F1} s")
                )
                + $"; the honest stream alongside: {honest.Status.StatusCode} with {honest.Results.Count()} results"
        );
        Assert.All(
            results,
            r =>
            {
                Assert.Equal(StatusCode.DeadlineExceeded, r.Status.StatusCode);
                Assert.Contains("idle", r.Status.Detail, StringComparison.Ordinal);
                Assert.True(r.At < TimeSpan.FromSeconds(6), $"cut off only after {r.At.TotalSeconds:F1} s");
            }
        );
        Assert.Equal(StatusCode.OK, honest.Status.StatusCode);
        Assert.Equal(0, server.Server.LiveStreams);
    }
}
