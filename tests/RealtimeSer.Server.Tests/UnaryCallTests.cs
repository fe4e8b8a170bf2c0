using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Core.Models;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Server.Tests;

/// <summary>
/// Unary calls refused before the handler (too large, malformed) are counted and say what to do; a model that
/// is installed but not loaded is named as such.
/// </summary>
public sealed class UnaryCallTests
{
    private const string Method = "realtime_ser.v1.EmotionRecognizer/Recognize";

    [SkippableFact]
    public async Task Refused_Recognize_calls_are_counted_and_a_large_one_names_the_limit_and_the_way_round_it()
    {
        await using var server = await TestServer.StartAsync();
        var big = new RecognizeRequest
        {
            Config = new RecognitionConfig { Encoding = AudioEncoding.Linear16, SampleRateHertz = 16000 },
            AudioContent = ByteString.CopyFrom(new byte[5 * 1024 * 1024]),
        };
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            server.Client.UnaryAsync(EmotionService.RecognizePath, big, RecognizeResponse.Parser)
        );
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("4 MiB", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("StreamingRecognize", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("recorded", refused.Status.Detail, StringComparison.Ordinal);

        // A malformed message: a frame whose payload is not a RecognizeRequest.
        Assert.Equal("13", await RawUnaryAsync(server, [0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF]));

        var noConfig = await Assert.ThrowsAsync<RpcException>(() =>
            server.Client.UnaryAsync(
                EmotionService.RecognizePath,
                new RecognizeRequest { AudioContent = ByteString.CopyFrom(new byte[3200]) },
                RecognizeResponse.Parser
            )
        );
        Assert.Equal(StatusCode.InvalidArgument, noConfig.StatusCode);
        Assert.StartsWith("Recognize needs `config`", noConfig.Status.Detail, StringComparison.Ordinal);

        var metrics = await Scrape.TextAsync(server);
        Assert.Contains(
            $"ser_grpc_calls_total{{code=\"RESOURCE_EXHAUSTED\",method=\"{Method}\"}} 1",
            metrics,
            StringComparison.Ordinal
        );
        Assert.Contains(
            $"ser_grpc_calls_total{{code=\"INTERNAL\",method=\"{Method}\"}} 1",
            metrics,
            StringComparison.Ordinal
        );
        Assert.Contains(
            $"ser_grpc_calls_total{{code=\"INVALID_ARGUMENT\",method=\"{Method}\"}} 1",
            metrics,
            StringComparison.Ordinal
        );
        // Names a client makes up stay out of the series.
        await RawUnaryAsync(server, [0, 0, 0, 0, 0], "/realtime_ser.v1.EmotionRecognizer/Made_Up");
        Assert.DoesNotContain("Made_Up", await Scrape.TextAsync(server), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_model_installed_but_not_loaded_is_named_with_how_to_load_it()
    {
        Skip.If(ModelCatalog.List().Count == 0, "no emotion model installed");
        var installed = ModelCatalog.List()[0].Id;
        await using var server = await TestServer.StartAsync();
        var models = await server.Client.UnaryAsync(
            EmotionService.ListModelsPath,
            new ListModelsRequest(),
            ListModelsResponse.Parser
        );
        Assert.Contains(installed, models.InstalledNotLoaded);
        Assert.DoesNotContain("fake", models.InstalledNotLoaded);

        var config = TestServer.MulawStereo();
        config.Model = installed;
        var (_, status) = await server.StreamAsync(config, new byte[1600], paced: false);
        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Contains(
            $"'{installed}' is installed on the server but not loaded",
            status.Detail,
            StringComparison.Ordinal
        );
        Assert.Contains($"--model fake,{installed}", status.Detail, StringComparison.Ordinal);

        config.Model = "no-such-model";
        (_, status) = await server.StreamAsync(config, new byte[1600], paced: false);
        Assert.Contains("Unknown model 'no-such-model'", status.Detail, StringComparison.Ordinal);
    }

    /// <summary>A unary call with a raw body; returns the grpc-status it ended with.</summary>
    private static async Task<string> RawUnaryAsync(
        TestServer server,
        byte[] body,
        string path = "/" + Method
    )
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Server.Address, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.ParseAdd("trailers");
        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        return response.TrailingHeaders.TryGetValues("grpc-status", out var t) ? t.Single()
            : response.Headers.TryGetValues("grpc-status", out var h) ? h.Single()
            : "?";
    }
}
