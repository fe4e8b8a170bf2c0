using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Server.Tests;

/// <summary>
/// The same checks as tests/interop/interop.js with the official .NET client (Grpc.Net.Client) and the stubs
/// Grpc.Tools generates from protos/: events per channel, health, and the error codes a client relies on.
/// </summary>
public sealed class GrpcNetClientInteropTests
{
    private const string Key = "interop-key";

    [SkippableFact]
    public async Task Generated_client_streams_the_call_and_sees_events_health_and_error_codes()
    {
        var audio = Robustness.Streams.Slice(TestPaths.WavData(TestPaths.RequireCallFixture()), 0, 40);
        await using var server = await TestServer.StartAsync(o =>
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash(Key)]
        );
        using var channel = new SerChannel(server.Server.Address, Key);

        var health = await channel.Health.CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        var responses = new List<StreamingRecognizeResponse>();
        await using (var call = await channel.Recognizer.StartStreamAsync(TestServer.MulawStereo()))
        {
            var reading = Task.Run(async () =>
            {
                while (await call.ReadAsync() is { } r)
                {
                    responses.Add(r);
                }
            });
            for (var at = 0; at < audio.Length; at += 1600)
            {
                Assert.True(
                    await call.WriteAsync(
                        new StreamingRecognizeRequest
                        {
                            AudioContent = ByteString.CopyFrom(audio, at, Math.Min(1600, audio.Length - at)),
                        }
                    )
                );
            }
            await call.CompleteRequestAsync();
            await reading;
        }
        foreach (var channelIndex in new[] { 0, 1 })
        {
            Assert.Contains(
                responses,
                r =>
                    r.SpeechEvent is { Type: SpeechEvent.Types.Type.SpeechStart } s
                    && s.Channel == channelIndex
            );
            var finals = responses
                .Where(r => r.Result is { IsFinal: true } f && f.Channel == channelIndex)
                .Select(r => r.Result)
                .ToList();
            Assert.NotEmpty(finals);
            Assert.All(finals, f => Assert.True(f.EndSeconds > f.StartSeconds && f.Scores.Count > 0));
        }
        Assert.Contains(responses, r => r.StreamStats is not null);

        // Audio before config, straight on the generated duplex call.
        using (var early = channel.Recognizer.StreamingRecognize())
        {
            await early.RequestStream.WriteAsync(
                new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio, 0, 1600) }
            );
            await early.RequestStream.CompleteAsync();
            var invalid = await Assert.ThrowsAsync<RpcException>(async () =>
                await early.ResponseStream.MoveNext()
            );
            Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        }
        using var wrong = new SerChannel(server.Server.Address, Key + "-wrong");
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await wrong.Recognizer.ListModelsAsync(new ListModelsRequest())
        );
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
    }
}
