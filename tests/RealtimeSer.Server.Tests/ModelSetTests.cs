using Grpc.Core;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Fakes;

namespace RealtimeSer.Server.Tests;

/// <summary>Several models on the same windows (emotion and arousal), chosen by config.models or the default set.</summary>
public sealed class ModelSetTests
{
    private static byte[] CallSeconds(double seconds)
    {
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        return audio.AsSpan(0, Math.Min(audio.Length, (int)(seconds * 16000) & ~1)).ToArray();
    }

    private static Task<TestServer> StartTwoModelServerAsync() =>
        TestServer.StartAsync(
            classifiers: [new FakeClassifier(labels: 4, id: "emo"), new FakeClassifier(labels: 3, id: "aro")]
        );

    [SkippableFact]
    public async Task The_default_set_gives_every_result_each_models_label_and_scores()
    {
        await using var server = await StartTwoModelServerAsync();
        var (responses, status) = await server.StreamAsync(
            TestServer.MulawStereo(),
            CallSeconds(30),
            paced: false
        );
        Assert.Equal(StatusCode.OK, status.StatusCode);
        var results = responses.Where(r => r.Result is not null).Select(r => r.Result).ToList();
        Assert.Contains(results, r => r.IsFinal);
        Assert.Contains(results, r => !r.IsFinal);
        Assert.All(
            results,
            r =>
            {
                Assert.Equal(["emo", "aro"], r.Models.Select(m => m.Model));
                Assert.Equal(r.Label, r.Models[0].Label);
                Assert.Equal(4, r.Models[0].Scores.Count);
                Assert.Equal(["label0", "label1", "label2"], r.Models[1].Scores.Select(s => s.Label));
                Assert.Contains(r.Models[1].Label, r.Models[1].Scores.Select(s => s.Label));
                Assert.All(r.Models, m => Assert.True(m.InferenceMs >= 0));
            }
        );
    }

    [SkippableFact]
    public async Task Config_models_picks_a_set_in_its_order_and_one_model_keeps_the_old_shape()
    {
        await using var server = await StartTwoModelServerAsync();

        var reversed = TestServer.MulawStereo();
        reversed.Models.Add(["aro", "emo"]);
        var (responses, status) = await server.StreamAsync(reversed, CallSeconds(20), paced: false);
        Assert.Equal(StatusCode.OK, status.StatusCode);
        var results = responses.Where(r => r.Result is not null).Select(r => r.Result).ToList();
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.Equal(["aro", "emo"], r.Models.Select(m => m.Model)));
        Assert.All(results, r => Assert.Equal(3, r.Scores.Count));

        // The old single field: that model alone, no models list (what clients before model sets see).
        var single = TestServer.MulawStereo();
        single.Model = "emo";
        (responses, status) = await server.StreamAsync(single, CallSeconds(20), paced: false);
        Assert.Equal(StatusCode.OK, status.StatusCode);
        results = [.. responses.Where(r => r.Result is not null).Select(r => r.Result)];
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.Equal(4, r.Scores.Count));
        Assert.All(results, r => Assert.Empty(r.Models));

        var unknown = TestServer.MulawStereo();
        unknown.Models.Add(["emo", "nope"]);
        (_, status) = await server.StreamAsync(unknown, new byte[1600], paced: false);
        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Contains("nope", status.Detail, StringComparison.Ordinal);
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task ListModels_lists_each_loaded_model_once_and_the_default_set()
    {
        await using var server = await StartTwoModelServerAsync();
        var models = await server.Client.UnaryAsync(
            EmotionService.ListModelsPath,
            new ListModelsRequest(),
            ListModelsResponse.Parser
        );
        Assert.Equal(["emo", "aro"], models.Models.Select(m => m.Id));
        Assert.All(models.Models, m => Assert.True(m.IsDefault));
        Assert.Equal(["emo", "aro"], models.DefaultModels);
        Assert.Equal(3, models.Models[1].Labels.Count);
    }
}
