using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// A client that reads its responses slowly keeps the server's writes waiting on HTTP/2 flow control. Its stream
/// must still end with the status the server means: OK with the final stats at a normal end, UNAVAILABLE when the
/// server shuts down. Cancelling a write under way makes Grpc.AspNetCore reset the stream instead (RST_STREAM
/// CANCEL: CANCELLED at this client, INTERNAL behind nginx); that is how a healthy replica's stream ended non-OK
/// in the load-balancer test on a busy machine, where the stats writer was stopped while its write waited.
/// </summary>
[Collection(RobustnessCollection.Name)]
public sealed class SlowReaderTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task A_slow_reader_gets_the_OK_end_and_final_stats_of_its_stream()
    {
        await using var server = await TestServer.StartAsync(o => o.StatsIntervalSeconds = 0.001);
        var counter = new Http2DataCounter();
        using var client = new TestClient(server.Server.Address, counter.CreateHandler());
        await using var call = await StartWithFullWindowAsync(client, counter);
        await call.CompleteRequestAsync();
        var (responses, status) = await ReadSlowlyAsync(call);
        Assert.Equal(StatusCode.OK, status.StatusCode);
        Assert.Equal(60, responses.Last(r => r.StreamStats is not null).StreamStats.AudioSeconds, 1);
    }

    [SkippableFact]
    public async Task A_slow_reader_learns_that_the_server_is_shutting_down()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.StatsIntervalSeconds = 0.001;
            o.ShutdownGraceSeconds = 0.2;
        });
        var counter = new Http2DataCounter();
        using var client = new TestClient(server.Server.Address, counter.CreateHandler());
        await using var call = await StartWithFullWindowAsync(client, counter);
        var stopping = server.Server.StopAsync();
        // Past the grace period: the service ends the call while a write waits.
        await Poll.UntilAsync(
            () => server.Server.Lifetime.HardStop.IsCancellationRequested,
            TimeSpan.FromSeconds(10),
            () => "the grace period never ended"
        );
        // Only a few slow reads: the host's own shutdown timeout (grace + 5 s) closes the connection after
        // that, and 200 slow reads can outlast it on a loaded machine.
        var (_, status) = await ReadSlowlyAsync(call, slowReads: 20);
        await stopping;
        ShutdownStatus.AssertEndedForShutdown(status);
    }

    /// <summary>
    /// The receive window of an HTTP/2 stream of .NET's client (SocketsHttpHandler's initial stream window):
    /// the server may send this much DATA on a stream before it must wait for the client to read.
    /// </summary>
    private const int StreamWindowBytes = 65535;

    /// <summary>Opens a stream, sends 60 s of audio at once and leaves the responses unread until the stream's 64 KiB window is full.</summary>
    private async Task<RealtimeSer.Grpc.StreamingCall<
        IMessage,
        StreamingRecognizeResponse
    >> StartWithFullWindowAsync(TestClient client, Http2DataCounter counter)
    {
        var audio = Streams.Slice(TestPaths.WavData(TestPaths.RequireCallFixture()), 0, 60);
        var call = client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser
        );
        Assert.True(await call.WriteAsync(new StreamingRecognizeRequest { Config = Streams.MulawStereo() }));
        Assert.True(
            await call.WriteAsync(new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio) })
        );
        // Results, and stats every millisecond, until the window is full (about 10 s): the server's next write
        // then waits for this client.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Poll.UntilAsync(
            () => counter.MaxStreamData >= StreamWindowBytes,
            TimeSpan.FromSeconds(60),
            () => $"the server sent {counter.MaxStreamData} bytes on the stream"
        );
        output.WriteLine(
            $"window full after {clock.Elapsed.TotalSeconds:F1} s ({counter.MaxStreamData} DATA bytes)"
        );
        return call;
    }

    /// <summary>Reads the first <paramref name="slowReads"/> responses one every 10 ms (the server's writes keep waiting), then the rest.</summary>
    private async Task<(List<StreamingRecognizeResponse> Responses, Status Status)> ReadSlowlyAsync(
        RealtimeSer.Grpc.StreamingCall<IMessage, StreamingRecognizeResponse> call,
        int slowReads = 200
    )
    {
        var responses = new List<StreamingRecognizeResponse>();
        Status status;
        try
        {
            while (await call.ReadAsync() is { } r)
            {
                responses.Add(r);
                if (responses.Count < slowReads)
                {
                    await Task.Delay(10); // pacing: a slow reader is the point
                }
            }
            status = Status.DefaultSuccess;
        }
        catch (RpcException e)
        {
            status = e.Status;
        }
        catch (OperationCanceledException e)
        {
            // Grpc.Net.Client's view of an HTTP/2 stream the server reset with CANCEL.
            status = new Status(StatusCode.Cancelled, "reset by the server: " + e.Message);
        }
        output.WriteLine(
            $"{responses.Count} responses ({responses.Sum(r => r.CalculateSize() + 5)} bytes), then {status}"
        );
        return (responses, status);
    }
}
