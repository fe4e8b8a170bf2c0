using Xunit.Abstractions;

namespace RealtimeSer.Onnx.Tests;

/// <summary>The real Silero VAD v5 model fetched by tools/bootstrap: proves the binding runs a production graph.</summary>
public class SileroVadTests(ITestOutputHelper output)
{
    private const int Frame = 576; // 512 new samples + 64 samples of context at 16 kHz

    private static OnnxSession LoadOrSkip()
    {
        var path = RepoPaths.SileroModel();
        Skip.If(
            path is null || !File.Exists(path),
            $"Silero VAD model not found at {path ?? "(no repo root)"}; run tools/bootstrap."
        );
        return OnnxSession.Load(path!, new OnnxSessionOptions { Provider = ExecutionProviderKind.Cpu });
    }

    [SkippableFact]
    public void Declares_the_inputs_and_outputs_the_vad_relies_on()
    {
        using var session = LoadOrSkip();

        Assert.Equal(["input", "state", "sr"], session.Inputs.Select(i => i.Name));
        Assert.Equal(["output", "stateN"], session.Outputs.Select(o => o.Name));
        Assert.Equal(TensorElementType.Float, session.Inputs[0].ElementType);
        Assert.Equal(TensorElementType.Float, session.Inputs[1].ElementType);
        Assert.Equal(TensorElementType.Int64, session.Inputs[2].ElementType);
        Assert.Equal(2, session.Inputs[0].Shape.Count);
        Assert.Equal([2L, -1, 128], session.Inputs[1].Shape);
        Assert.Empty(session.Inputs[2].Shape);
    }

    [SkippableTheory]
    [InlineData("sine")]
    [InlineData("zeros")]
    public void One_frame_gives_a_probability_and_a_new_state(string signal)
    {
        using var session = LoadOrSkip();
        var audio = new float[Frame];
        if (signal == "sine")
        {
            for (var i = 0; i < Frame; i++)
            {
                audio[i] = 0.5f * MathF.Sin(2 * MathF.PI * 440 * i / 16000f);
            }
        }
        var state = new float[2 * 1 * 128];

        var outputs = session.Run([
            NamedTensor.Float("input", audio, [1, Frame]),
            NamedTensor.Float("state", state, [2, 1, 128]),
            NamedTensor.Int64Scalar("sr", 16000),
        ]);

        var probability = Assert.Single(outputs[0].Floats);
        Assert.InRange(probability, 0f, 1f);
        Assert.Equal([1L, 1], outputs[0].Shape);
        Assert.Equal([2L, 1, 128], outputs[1].Shape);
        Assert.Equal(256, outputs[1].Floats.Length);
        Assert.Contains(outputs[1].Floats, v => v != 0f);
        Assert.All(outputs[1].Floats, v => Assert.True(float.IsFinite(v)));
    }

    [SkippableFact]
    public void Prints_its_signature_for_the_record()
    {
        using var session = LoadOrSkip();
        var line = session.Describe();
        output.WriteLine(line);
        output.WriteLine(
            "metadata: " + string.Join(", ", session.CustomMetadata.Select(kv => $"{kv.Key}={kv.Value}"))
        );
        Assert.Contains("silero_vad_v5.onnx", line, StringComparison.Ordinal);
        Assert.Contains("input: Float[", line, StringComparison.Ordinal);
    }
}
