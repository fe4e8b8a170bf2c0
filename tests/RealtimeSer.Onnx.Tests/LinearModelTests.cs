using RealtimeSer.Onnx.Tests.Models;

namespace RealtimeSer.Onnx.Tests;

public class LinearModelTests
{
    private static readonly OnnxSessionOptions Cpu = new() { Provider = ExecutionProviderKind.Cpu };

    [Fact]
    public void Inputs_and_outputs_are_read_from_the_model()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        Assert.Equal(
            [
                new TensorInfo("x", TensorElementType.Float, [-1, 3]),
                new TensorInfo("ids", TensorElementType.Int64, [-1]),
            ],
            session.Inputs
        );
        Assert.Equal(
            [
                new TensorInfo("y", TensorElementType.Float, [-1, 2]),
                new TensorInfo("label", TensorElementType.Int64, [-1]),
                new TensorInfo("ids_plus", TensorElementType.Int64, [-1]),
            ],
            session.Outputs
        );
        Assert.Equal(Path.GetFullPath(TestModels.LinearPath), session.ModelPath);
    }

    [Fact]
    public void Tensor_info_compares_shapes_by_value()
    {
        Assert.Equal(
            new TensorInfo("x", TensorElementType.Float, [-1, 3]),
            new TensorInfo("x", TensorElementType.Float, new List<long> { -1, 3 })
        );
        Assert.NotEqual(
            new TensorInfo("x", TensorElementType.Float, [-1, 3]),
            new TensorInfo("x", TensorElementType.Float, [1, 3])
        );
        Assert.NotEqual(
            new TensorInfo("x", TensorElementType.Float, [3]),
            new TensorInfo("x", TensorElementType.Int64, [3])
        );
    }

    [Fact]
    public void Custom_metadata_is_read()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        Assert.Equal(2, session.CustomMetadata.Count);
        Assert.Equal("neutral,happy", session.CustomMetadata["labels"]);
        Assert.Equal("16000", session.CustomMetadata["sample_rate"]);
        Assert.Equal("realtime-ser-tests", session.ProducerName);
        Assert.Equal("linear_graph", session.GraphName);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(33)]
    public void Outputs_match_a_plain_csharp_computation(int batch)
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        var random = new Random(batch);
        var x = Enumerable.Range(0, batch * 3).Select(_ => (float)((random.NextDouble() * 4) - 2)).ToArray();
        var ids = Enumerable.Range(0, batch).Select(i => (long)(i * 1000) - 7).ToArray();

        var outputs = session.Run([
            NamedTensor.Float("x", x, [batch, 3]),
            NamedTensor.Int64("ids", ids, [batch]),
        ]);

        Assert.Equal(["y", "label", "ids_plus"], outputs.Select(o => o.Name));
        var y = outputs[0];
        Assert.Equal(TensorElementType.Float, y.ElementType);
        Assert.Equal([batch, 2], y.Shape);
        Assert.Null(y.Int64Data);
        var expected = TestModels.ExpectedY(x);
        Assert.Equal(expected.Length, y.Floats.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], y.Floats[i], 1e-5f);
        }

        var label = outputs[1];
        Assert.Equal(TensorElementType.Int64, label.ElementType);
        Assert.Equal([batch], label.Shape);
        Assert.Null(label.FloatData);
        for (var r = 0; r < batch; r++)
        {
            Assert.Equal(y.Floats[(r * 2) + 1] > y.Floats[r * 2] ? 1L : 0L, label.Int64s[r]);
        }

        Assert.Equal(ids.Select(i => i + TestModels.IdOffset), outputs[2].Int64s);
    }

    [Fact]
    public void Requested_outputs_come_back_in_the_requested_order()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        float[] x = [1, 2, 3];

        var outputs = session.Run(
            [NamedTensor.Float("x", x, [1, 3]), NamedTensor.Int64("ids", new long[] { 5 }, [1])],
            ["ids_plus", "y"]
        );

        Assert.Equal(2, outputs.Length);
        Assert.Equal("ids_plus", outputs[0].Name);
        Assert.Equal([15L], outputs[0].Int64s);
        Assert.Equal("y", outputs[1].Name);
        AssertClose(TestModels.ExpectedY(x), outputs[1].Floats);
    }

    [Fact]
    public void Inputs_are_views_over_a_slice_of_caller_memory()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        float[] buffer = [99, 99, 1, 2, 3, 4, 5, 6, 99];
        var x = buffer.AsMemory(2, 6);

        var outputs = session.Run(
            [NamedTensor.Float("x", x, [2, 3]), NamedTensor.Int64("ids", new long[] { 0, 1 }, [2])],
            ["y"]
        );

        AssertClose(TestModels.ExpectedY([1, 2, 3, 4, 5, 6]), outputs[0].Floats);
    }

    [Fact]
    public void Input_order_does_not_matter()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        float[] x = [0.5f, -1, 2];

        var outputs = session.Run([
            NamedTensor.Int64("ids", new long[] { 1 }, [1]),
            NamedTensor.Float("x", x, [1, 3]),
        ]);

        AssertClose(TestModels.ExpectedY(x), outputs[0].Floats);
        Assert.Equal([11L], outputs[2].Int64s);
    }

    [Theory]
    [InlineData(GraphOptimization.Disabled, 1, 1, false)]
    [InlineData(GraphOptimization.Basic, 2, 1, true)]
    [InlineData(GraphOptimization.Extended, 0, 0, false)]
    [InlineData(GraphOptimization.All, 1, 2, true)]
    public void Every_option_combination_loads_and_computes_the_same(
        GraphOptimization level,
        int intra,
        int inter,
        bool spinning
    )
    {
        var options = Cpu with
        {
            Optimization = level,
            IntraOpThreads = intra,
            InterOpThreads = inter,
            AllowSpinning = spinning,
            LogId = "test-" + level,
        };
        using var session = OnnxSession.Load(TestModels.LinearPath, options);
        float[] x = [1, -2, 3, 0.5f, 0.25f, -4];

        var y = session.Run([
            NamedTensor.Float("x", x, [2, 3]),
            NamedTensor.Int64("ids", new long[] { 0, 0 }, [2]),
        ])[0];

        var expected = TestModels.ExpectedY(x);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], y.Floats[i], 1e-5f);
        }
    }

    [Fact]
    public void Describe_names_model_provider_version_and_threads()
    {
        using var session = OnnxSession.Load(
            TestModels.LinearPath,
            Cpu with
            {
                IntraOpThreads = 2,
                InterOpThreads = 1,
            }
        );

        var line = session.Describe();

        Assert.StartsWith(
            "onnx: model linear.onnx on CPU (ORT " + OnnxRuntime.Version,
            line,
            StringComparison.Ordinal
        );
        Assert.Contains("intra 2 / inter 1 threads", line, StringComparison.Ordinal);
        Assert.Contains("spinning off", line, StringComparison.Ordinal);
        Assert.Contains("x: Float[-1, 3]", line, StringComparison.Ordinal);
    }

    /// <summary>ORT may sum in a different order (FMA, blocking), so compare to float precision, not bit for bit.</summary>
    internal static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-5f);
        }
    }
}
