using System.Buffers.Binary;
using Grpc.Core;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// FLOAT32 audio from a broken client (NaN, infinities, absurd magnitudes) over the wire, through the real
/// default model: the call ends OK, speech is still found, and no score is NaN. The engine-level cases
/// (RealtimeSer.Core.Tests, HostileAudioTests) cover the same damage without the transport.
/// </summary>
[Collection(RobustnessCollection.Name)]
public sealed class HostileAudioOverGrpcTests(ITestOutputHelper output)
{
    // Whether every segment's speech must still be found: sparse damage leaves it audible; a NaN in every third
    // sample (zeroed by the decoder) turns it into a buzz the VAD mostly ignores (one segment of four is found).
    public static TheoryData<string, bool> Cases =>
        new()
        {
            { "nan", true },
            { "nan-dense", false },
            { "infinity", true },
            { "huge", true },
            { "nan-burst", true },
        };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Non_finite_float32_audio_ends_OK_with_finite_scores(string kind, bool speechSurvives)
    {
        var clip = TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        IEmotionClassifier classifier;
        try
        {
            classifier = OnnxEmotionClassifier.Load(ModelCatalog.Resolve(ModelCatalog.DefaultModelId));
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"the default model is not installed: {e.Message}");
        }
        // Declared before the server, so it is disposed after the server's engine is done with it.
        using var model = classifier;
        var speech = await AudioLoader.ReadMono16kAsync(clip);
        var audio = Damage(kind, speech, seconds: 12);

        // Unpaced, so the engine waits for queue room instead of dropping windows: every segment gets its final.
        await using var server = await TestServer.StartAsync(
            classifier: classifier,
            engineOptions: new EngineOptions { Overload = OverloadPolicy.Wait }
        );
        var config = new RecognitionConfig
        {
            Encoding = AudioEncoding.Float32,
            SampleRateHertz = 16000,
            AudioChannelCount = 1,
            InterimResults = true,
        };
        var outcome = await Streams.RunAsync(
            server.Client,
            config,
            audio,
            paced: false,
            bytesPer100Ms: 1600 * 4
        );

        output.WriteLine(
            $"{kind}: {outcome.Status}; {outcome.Responses.Count(r => r.Result is { IsFinal: true })} finals, "
                + $"{outcome.Responses.Count(r => r.Result is { IsFinal: false })} interims"
        );
        Assert.Equal(StatusCode.OK, outcome.Status.StatusCode);
        var results = outcome.Responses.Where(r => r.Result is not null).Select(r => r.Result).ToList();
        if (speechSurvives)
        {
            Assert.Contains(results, r => r.IsFinal);
        }
        // Dense NaN leaves a buzz the VAD mostly ignores, but one of the four segments still reaches the model
        // (measured): there are always scores to check.
        Assert.NotEmpty(results);
        Assert.All(
            results,
            r =>
            {
                Assert.All(r.Scores, s => Assert.True(float.IsFinite(s.Score) && s.Score is >= 0 and <= 1));
                Assert.InRange(r.Scores.Sum(s => s.Score), 0.99, 1.01);
                Assert.False(string.IsNullOrEmpty(r.Label));
            }
        );
        await server.WaitForNoStreamsAsync();
    }

    private static byte[] Damage(string kind, float[] speech, int seconds)
    {
        // The clip looped with a second of silence between repeats, so the VAD opens and closes several times.
        var period = speech.Length + 16000;
        var bytes = new byte[seconds * 16000 * 4];
        for (var i = 0; i < seconds * 16000; i++)
        {
            var x = i % period < speech.Length ? speech[i % period] : 0f;
            x = kind switch
            {
                "nan" => i % 50 == 0 ? float.NaN : x,
                "nan-dense" => i % 3 == 0 ? float.NaN : x,
                "infinity" => i % 7 == 0 ? (i % 2 == 0 ? float.PositiveInfinity : float.NegativeInfinity) : x,
                "huge" => i % 11 == 0 ? 3e38f : x * 1e6f,
                "nan-burst" => i % 16000 < 800 ? float.NaN : x,
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
            };
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), x);
        }
        return bytes;
    }
}
