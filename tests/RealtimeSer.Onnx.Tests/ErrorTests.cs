using RealtimeSer.Onnx.Tests.Models;

namespace RealtimeSer.Onnx.Tests;

public class ErrorTests
{
    private static readonly OnnxSessionOptions Cpu = new() { Provider = ExecutionProviderKind.Cpu };

    [Fact]
    public void Missing_model_names_the_file()
    {
        var path = Path.Combine(
            Path.GetTempPath(),
            "definitely-missing-" + Guid.NewGuid().ToString("N") + ".onnx"
        );

        var ex = Assert.Throws<FileNotFoundException>(() => OnnxSession.Load(path, Cpu));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Equal(path, ex.FileName);
    }

    [Fact]
    public void Garbage_model_names_the_file_and_carries_orts_error()
    {
        var path = TestModels.Write("garbage", "this is not a protobuf, just text"u8.ToArray());

        var ex = Assert.Throws<OnnxException>(() => OnnxSession.Load(path, Cpu));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.NotEqual(OnnxErrorCode.Ok, ex.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(ex.NativeMessage));
        Assert.Contains(ex.NativeMessage, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_with_an_unknown_operator_fails_with_orts_message()
    {
        var bytes = new OnnxModelBuilder()
            .Input("x", TensorElementType.Float, 1)
            .Node("NoSuchOperatorAnywhere", ["x"], ["y"])
            .Output("y", TensorElementType.Float, 1)
            .Build("bad");
        var path = TestModels.Write("unknown-op", bytes);

        var ex = Assert.Throws<OnnxException>(() => OnnxSession.Load(path, Cpu));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("NoSuchOperatorAnywhere", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_input_name_lists_the_real_inputs()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        var ex = Assert.Throws<OnnxException>(() =>
            session.Run([
                NamedTensor.Float("nope", new float[3], [1, 3]),
                NamedTensor.Int64("ids", new long[1], [1]),
            ])
        );

        Assert.Equal(OnnxErrorCode.InvalidArgument, ex.ErrorCode);
        Assert.Contains("'nope'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("x: Float[-1, 3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_element_type_is_rejected_before_orts_run()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        var ex = Assert.Throws<OnnxException>(() =>
            session.Run([
                NamedTensor.Int64("x", new long[3], [1, 3]),
                NamedTensor.Int64("ids", new long[1], [1]),
            ])
        );

        Assert.Equal(OnnxErrorCode.InvalidArgument, ex.ErrorCode);
        Assert.Contains("expects Float, got Int64", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_shape_surfaces_orts_own_error()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        var ex = Assert.Throws<OnnxException>(() =>
            session.Run([
                NamedTensor.Float("x", new float[4], [1, 4]),
                NamedTensor.Int64("ids", new long[1], [1]),
            ])
        );

        Assert.Equal(OnnxErrorCode.InvalidArgument, ex.ErrorCode);
        Assert.Contains("linear.onnx", ex.Message, StringComparison.Ordinal);
        Assert.Contains("x", ex.NativeMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_input_surfaces_orts_own_error()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);

        var ex = Assert.Throws<OnnxException>(() =>
            session.Run([NamedTensor.Float("x", new float[3], [1, 3])])
        );

        Assert.Contains("ids", ex.NativeMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_output_and_duplicate_input_are_rejected()
    {
        using var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        var x = NamedTensor.Float("x", new float[3], [1, 3]);
        var ids = NamedTensor.Int64("ids", new long[1], [1]);

        var unknown = Assert.Throws<OnnxException>(() => session.Run([x, ids], ["y", "logits"]));
        Assert.Contains("'logits'", unknown.Message, StringComparison.Ordinal);

        var duplicate = Assert.Throws<OnnxException>(() => session.Run([x, ids, x]));
        Assert.Contains("'x' was given twice", duplicate.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Data_that_does_not_fill_the_shape_is_rejected_at_construction()
    {
        var ex = Assert.Throws<ArgumentException>(() => NamedTensor.Float("x", new float[5], [2, 3]));
        Assert.Contains("5 elements", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => NamedTensor.Int64("ids", new long[1], [-1]));
    }

    [Fact]
    public void Disposed_session_throws_and_dispose_is_idempotent()
    {
        var session = OnnxSession.Load(TestModels.LinearPath, Cpu);
        session.Dispose();
        session.Dispose();

        Assert.Throws<ObjectDisposedException>(() =>
            session.Run([
                NamedTensor.Float("x", new float[3], [1, 3]),
                NamedTensor.Int64("ids", new long[1], [1]),
            ])
        );
    }
}
