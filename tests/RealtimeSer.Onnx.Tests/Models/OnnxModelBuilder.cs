namespace RealtimeSer.Onnx.Tests.Models;

/// <summary>Builds ModelProto bytes; field numbers are those of onnx/onnx.proto.</summary>
internal sealed class OnnxModelBuilder
{
    private readonly ProtoWriter _graph = new();
    private readonly List<(string Key, string Value)> _metadata = [];

    public OnnxModelBuilder Input(string name, TensorElementType type, params object[] dims)
    {
        _graph.Message(11, ValueInfo(name, type, dims));
        return this;
    }

    public OnnxModelBuilder Output(string name, TensorElementType type, params object[] dims)
    {
        _graph.Message(12, ValueInfo(name, type, dims));
        return this;
    }

    public OnnxModelBuilder FloatInitializer(string name, long[] dims, float[] values)
    {
        var tensor = new ProtoWriter();
        foreach (var dim in dims)
        {
            tensor.Int(1, dim);
        }
        tensor.Int(2, (long)TensorElementType.Float).PackedFloats(4, values).String(8, name);
        _graph.Message(5, tensor);
        return this;
    }

    public OnnxModelBuilder Int64Initializer(string name, long[] dims, long[] values)
    {
        var tensor = new ProtoWriter();
        foreach (var dim in dims)
        {
            tensor.Int(1, dim);
        }
        tensor.Int(2, (long)TensorElementType.Int64).PackedInts(7, values).String(8, name);
        _graph.Message(5, tensor);
        return this;
    }

    public OnnxModelBuilder Node(
        string opType,
        string[] inputs,
        string[] outputs,
        params (string Name, long Value)[] intAttributes
    )
    {
        var node = new ProtoWriter();
        foreach (var input in inputs)
        {
            node.String(1, input);
        }
        foreach (var output in outputs)
        {
            node.String(2, output);
        }
        node.String(3, $"{opType}_{outputs[0]}").String(4, opType);
        foreach (var (name, value) in intAttributes)
        {
            // AttributeProto: name = 1, i = 3, type = 20 (INT = 2).
            node.Message(5, new ProtoWriter().String(1, name).Int(3, value).Int(20, 2));
        }
        _graph.Message(1, node);
        return this;
    }

    public OnnxModelBuilder Metadata(string key, string value)
    {
        _metadata.Add((key, value));
        return this;
    }

    public byte[] Build(string graphName, int opset = 17)
    {
        _graph.String(2, graphName);
        var model = new ProtoWriter()
            .Int(1, 8) // ir_version 8 pairs with opset 17
            .String(2, "realtime-ser-tests")
            .Message(8, new ProtoWriter().String(1, "").Int(2, opset))
            .Message(7, _graph);
        foreach (var (key, value) in _metadata)
        {
            model.Message(14, new ProtoWriter().String(1, key).String(2, value));
        }
        return model.ToArray();
    }

    /// <summary>dims: a long for a fixed size, a string for a named dynamic dimension.</summary>
    private static ProtoWriter ValueInfo(string name, TensorElementType type, object[] dims)
    {
        var shape = new ProtoWriter();
        foreach (var dim in dims)
        {
            var d = dim switch
            {
                string param => new ProtoWriter().String(2, param),
                _ => new ProtoWriter().Int(
                    1,
                    Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture)
                ),
            };
            shape.Message(1, d);
        }
        var tensorType = new ProtoWriter().Int(1, (long)type).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }
}
