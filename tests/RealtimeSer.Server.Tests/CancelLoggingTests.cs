using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Shared;

namespace RealtimeSer.Server.Tests;

/// <summary>A client that cancels its stream is an ordinary end: one line that says so, no stack traces.</summary>
public sealed class CancelLoggingTests
{
    [SkippableFact]
    public async Task A_cancelled_stream_logs_its_end_without_stack_traces()
    {
        var logs = new LogCapture();
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        await using var server = await TestServer.StartAsync(logging: b => b.AddProvider(logs));
        using var cancel = new CancellationTokenSource();
        await using var call = server.Client.StartDuplex(
            EmotionService.StreamingRecognizePath,
            StreamingRecognizeResponse.Parser,
            cancellationToken: cancel.Token
        );
        await call.WriteAsync(new StreamingRecognizeRequest { Config = TestServer.MulawStereo() });
        await call.WriteAsync(
            new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio, 0, 16000) }
        );
        await Poll.UntilAsync(
            () => server.Server.LiveStreams == 1,
            TimeSpan.FromSeconds(30),
            () => $"{server.Server.LiveStreams} live streams"
        );
        await cancel.CancelAsync();
        await server.WaitForNoStreamsAsync();
        await Poll.UntilAsync(
            () => logs.Entries.Any(e => e.Text.Contains("ended with CANCELLED", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30),
            () => "no log line says the stream ended with CANCELLED"
        );

        var withTraces = logs
            .Entries.Where(e => e.Exception is not null && e.Level < LogLevel.Warning)
            .ToList();
        Assert.True(
            withTraces.Count == 0,
            string.Join("\n", withTraces.Select(e => $"{e.Level} {e.Category}: {e.Text}"))
        );
        Assert.DoesNotContain(
            logs.Entries,
            e => e.Category.StartsWith("Microsoft.Hosting.Lifetime", StringComparison.Ordinal)
        );
    }
}
