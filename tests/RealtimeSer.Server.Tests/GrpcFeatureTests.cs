using System.IO.Compression;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Server.Tests.Robustness;
using RealtimeSer.Tests.Shared;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace RealtimeSer.Server.Tests;

/// <summary>What Grpc.AspNetCore adds for clients: reflection, gzip, gRPC-Web, with the official client.</summary>
public sealed class GrpcFeatureTests
{
    private const string Recognizer = "realtime_ser.v1.EmotionRecognizer";

    [SkippableFact]
    public async Task Server_reflection_v1_and_v1alpha_list_the_services_and_describe_the_recognizer()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = GrpcChannel.ForAddress(server.Server.Address);

        using var v1 = new V1.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await v1.RequestStream.WriteAsync(new V1.ServerReflectionRequest { ListServices = "" });
        await v1.RequestStream.WriteAsync(
            new V1.ServerReflectionRequest { FileContainingSymbol = Recognizer }
        );
        await v1.RequestStream.CompleteAsync();
        Assert.True(await v1.ResponseStream.MoveNext());
        var services = v1.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains(Recognizer, services);
        Assert.Contains("grpc.health.v1.Health", services);
        Assert.True(await v1.ResponseStream.MoveNext());
        Assert.NotEmpty(v1.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto);

        using var alpha = new V1Alpha.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await alpha.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = "" });
        await alpha.RequestStream.CompleteAsync();
        Assert.True(await alpha.ResponseStream.MoveNext());
        Assert.Contains(
            Recognizer,
            alpha.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name)
        );
    }

    [SkippableFact]
    public async Task Gzip_compressed_calls_are_served_and_a_gzip_bomb_is_refused()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxMessageBytes = 64 * 1024);
        using var channel = GrpcChannel.ForAddress(server.Server.Address);
        var client = new EmotionRecognizer.EmotionRecognizerClient(channel);
        var gzip = new Metadata { { "grpc-internal-encoding-request", "gzip" } };

        var models = await client.ListModelsAsync(new ListModelsRequest(), gzip);
        Assert.NotEmpty(models.Models);
        var recognized = await client.RecognizeAsync(
            new RecognizeRequest
            {
                Config = TestServer.MulawStereo(),
                AudioContent = ByteString.CopyFrom(new byte[16000]),
            },
            gzip
        );
        Assert.NotNull(recognized.StreamStats);

        // By hand, so the test knows the bytes are compressed: a config, gzip, flag 1.
        using var raw = new RawGrpcClient(server.Server.Address);
        raw.Headers["grpc-encoding"] = "gzip";
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var config = new StreamingRecognizeRequest { Config = Frames.MulawMono() }.ToByteArray();
        var ok = await raw.CallAsync(
            EmotionService.StreamingRecognizePath,
            [Compressed(Gzip(config))],
            cancel.Token
        );
        Assert.Equal(StatusCode.OK, ok.StatusCode);
        // 1 KiB of gzip that would inflate to 16 MiB, far over the 64 KiB message limit.
        var bomb = new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(new byte[16 << 20]) };
        var refused = await raw.CallAsync(
            EmotionService.StreamingRecognizePath,
            [Compressed(Gzip(config)), Compressed(Gzip(bomb.ToByteArray()))],
            cancel.Token
        );
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("Decompressed message exceeds", refused.Detail, StringComparison.Ordinal);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableTheory]
    [InlineData(GrpcWebMode.GrpcWeb)]
    [InlineData(GrpcWebMode.GrpcWebText)]
    public async Task Grpc_web_over_http1_serves_unary_and_server_streaming_calls(GrpcWebMode mode)
    {
        await using var server = await TestServer.StartAsync();
        using var channel = GrpcChannel.ForAddress(
            server.Server.Address,
            new GrpcChannelOptions
            {
                HttpHandler = new GrpcWebHandler(mode, new HttpClientHandler()),
                HttpVersion = System.Net.HttpVersion.Version11,
            }
        );
        var models = await new EmotionRecognizer.EmotionRecognizerClient(channel).ListModelsAsync(
            new ListModelsRequest()
        );
        Assert.Contains(models.Models, m => m.IsDefault);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var watch = new Health.HealthClient(channel).Watch(
            new HealthCheckRequest { Service = Recognizer },
            cancellationToken: cancel.Token
        );
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(data);
        }
        return output.ToArray();
    }

    private static byte[] Compressed(byte[] payload)
    {
        var frame = FrameMutator.Frame(payload);
        frame[0] = 1;
        return frame;
    }
}
