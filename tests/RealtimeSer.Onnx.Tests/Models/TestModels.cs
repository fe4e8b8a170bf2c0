namespace RealtimeSer.Onnx.Tests.Models;

/// <summary>
/// The hand-built test model: y = x·W + b over a dynamic batch, label = ArgMax(y), ids_plus = ids + 10.
/// Written once per test run to a temp file (ORT loads from paths, as the app does).
/// </summary>
internal static class TestModels
{
    public static readonly float[] W = [0.5f, -1f, 2f, 0.25f, -0.75f, 1.5f]; // [3, 2] row-major
    public static readonly float[] B = [0.1f, -0.2f];
    public const long IdOffset = 10;

    private static readonly Lazy<string> s_linear = new(() =>
        Write(
            "linear",
            new OnnxModelBuilder()
                .Input("x", TensorElementType.Float, "N", 3)
                .Input("ids", TensorElementType.Int64, "N")
                .FloatInitializer("W", [3, 2], W)
                .FloatInitializer("b", [2], B)
                .Int64Initializer("offset", [1], [IdOffset])
                .Node("MatMul", ["x", "W"], ["xw"])
                .Node("Add", ["xw", "b"], ["y"])
                .Node("ArgMax", ["y"], ["label"], ("axis", 1), ("keepdims", 0))
                .Node("Add", ["ids", "offset"], ["ids_plus"])
                .Output("y", TensorElementType.Float, "N", 2)
                .Output("label", TensorElementType.Int64, "N")
                .Output("ids_plus", TensorElementType.Int64, "N")
                .Metadata("labels", "neutral,happy")
                .Metadata("sample_rate", "16000")
                .Build("linear_graph")
        )
    );

    public static string LinearPath => s_linear.Value;

    /// <summary>What the model should compute, done in plain C#.</summary>
    public static float[] ExpectedY(float[] x)
    {
        var rows = x.Length / 3;
        var y = new float[rows * 2];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < 2; c++)
            {
                var sum = B[c];
                for (var k = 0; k < 3; k++)
                {
                    sum += x[(r * 3) + k] * W[(k * 2) + c];
                }
                y[(r * 2) + c] = sum;
            }
        }
        return y;
    }

    public static string Write(string name, byte[] bytes)
    {
        var dir = Path.Combine(
            Path.GetTempPath(),
            "realtimeser-onnx-tests",
            Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)
        );
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name + ".onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
