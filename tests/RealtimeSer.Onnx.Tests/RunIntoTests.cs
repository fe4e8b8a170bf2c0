using RealtimeSer.Onnx.Tests.Models;

namespace RealtimeSer.Onnx.Tests;

/// <summary>The hot-path form: outputs written by ORT straight into caller memory.</summary>
public class RunIntoTests
{
    private static readonly OnnxSessionOptions Cpu = new() { Provider = ExecutionProviderKind.Cpu };

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    public void Writes_the_output_into_a_slice_of_caller_memory(int batch)
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        var random = new Random(batch);
        var x = Enumerable.Range(0, batch * 3).Select(_ => (float)random.NextDouble()).ToArray();
        var buffer = Enumerable.Repeat(-123f, (batch * 2) + 4).ToArray();

        session.RunInto(
            [NamedTensor.Float("x", x, [batch, 3]), NamedTensor.Int64("ids", new long[batch], [batch])],
            [new OutputBuffer("y", buffer.AsMemory(2, batch * 2), [batch, 2])]
        );

        LinearModelTests.AssertClose(TestModels.ExpectedY(x), buffer[2..^2]);
        Assert.Equal([-123f, -123f], buffer[..2]);
        Assert.Equal([-123f, -123f], buffer[^2..]);
    }

    [SkippableFact]
    public void Agrees_with_run_on_the_silero_model()
    {
        var path = RepoPaths.SileroModel();
        Skip.If(
            path is null || !File.Exists(path),
            $"Silero VAD model not found at {path}; run tools/bootstrap."
        );
        using var session = OnnxSession.Load(path!, Cpu);
        var audio = new float[576];
        for (var i = 0; i < audio.Length; i++)
        {
            audio[i] = 0.3f * MathF.Sin(2 * MathF.PI * 220 * i / 16000f) * MathF.Sin(i / 40f);
        }
        NamedTensor[] inputs =
        [
            NamedTensor.Float("input", audio, [1, 576]),
            NamedTensor.Float("state", new float[256], [2, 1, 128]),
            NamedTensor.Int64Scalar("sr", 16000),
        ];
        var probability = new float[1];
        var state = new float[256];

        var expected = session.Run(inputs);
        session.RunInto(
            inputs,
            [new OutputBuffer("output", probability, [1, 1]), new OutputBuffer("stateN", state, [2, 1, 128])]
        );

        Assert.Equal(expected[0].Floats, probability);
        Assert.Equal(expected[1].Floats, state);
        Assert.Contains(state, v => v != 0f);
    }

    [Fact]
    public void Allocation_does_not_grow_with_the_data()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        long AllocatedPerRun(int batch)
        {
            var x = new float[batch * 3];
            var ids = new long[batch];
            var y = new float[batch * 2];
            void Once() =>
                session.RunInto(
                    [NamedTensor.Float("x", x, [batch, 3]), NamedTensor.Int64("ids", ids, [batch])],
                    [new OutputBuffer("y", y, [batch, 2])]
                );
            Once();
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 50; i++)
            {
                Once();
            }
            return (GC.GetAllocatedBytesForCurrentThread() - before) / 50;
        }

        var small = AllocatedPerRun(2);
        var large = AllocatedPerRun(20_000); // 160 KB of output per run if it were copied out
        Assert.True(large - small < 1024, $"{small} bytes per run at batch 2, {large} at batch 20000");
    }

    [Fact]
    public void A_buffer_of_the_wrong_shape_is_refused_by_ort()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        var ex = Assert.Throws<OnnxException>(() =>
            session.RunInto(
                [NamedTensor.Float("x", new float[6], [2, 3]), NamedTensor.Int64("ids", new long[2], [2])],
                [new OutputBuffer("y", new float[2], [1, 2])]
            )
        );

        Assert.Contains("linear.onnx", ex.Message, StringComparison.Ordinal);
        Assert.NotEqual(OnnxErrorCode.Ok, ex.ErrorCode);
    }

    [Fact]
    public void Unknown_duplicate_and_non_float_outputs_are_rejected_before_ort()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        NamedTensor[] inputs =
        [
            NamedTensor.Float("x", new float[3], [1, 3]),
            NamedTensor.Int64("ids", new long[1], [1]),
        ];

        var unknown = Assert.Throws<OnnxException>(() =>
            session.RunInto(inputs, [new OutputBuffer("logits", new float[2], [1, 2])])
        );
        Assert.Contains("no output 'logits'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("y: Float[-1, 2]", unknown.Message, StringComparison.Ordinal);

        var twice = Assert.Throws<OnnxException>(() =>
            session.RunInto(
                inputs,
                [new OutputBuffer("y", new float[2], [1, 2]), new OutputBuffer("y", new float[2], [1, 2])]
            )
        );
        Assert.Contains("'y' was given twice", twice.Message, StringComparison.Ordinal);

        var int64 = Assert.Throws<OnnxException>(() =>
            session.RunInto(inputs, [new OutputBuffer("label", new float[1], [1])])
        );
        Assert.Contains("is Int64", int64.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_buffer_that_does_not_fill_its_shape_is_rejected_at_construction()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OutputBuffer("y", new float[3], [2, 2]));
        Assert.Contains("3 elements", ex.Message, StringComparison.Ordinal);
    }
}
