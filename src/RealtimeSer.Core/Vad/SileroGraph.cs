using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace RealtimeSer.Core.Vad;

/// <summary>
/// Silero VAD v5's graph cut in two at load. Its 16 kHz branch is a stateless encoder (STFT and four
/// convolutions, most of the work) followed by one LSTM step and a linear head. The encoder becomes a graph of
/// its own, ending in the LSTM's input projection, so that all frames of a channel's run (a recording's block
/// holds fifteen) go through it as one batch; the recurrent step, which needs the frames in order, runs in
/// <see cref="SileroDecoder"/>. Whole-graph runs can batch only across channels, one frame of each, and pay the
/// graph's control flow (nested <c>If</c>s that slice and concatenate the LSTM weights) on every run.
/// </summary>
internal sealed class SileroGraph
{
    /// <summary>The encoder graph's output: each frame's LSTM input projection plus both biases, [frames, 512].</summary>
    public const string GatesOutput = "ser_gates";

    private const string EncoderEnd = "/encoder/3/activation/Relu_output_0";

    private SileroGraph(byte[] encoder, SileroDecoder decoder)
    {
        Encoder = encoder;
        Decoder = decoder;
    }

    /// <summary>The encoder as a serialized ONNX model: input "input" [frames, 576], output <see cref="GatesOutput"/>.</summary>
    public byte[] Encoder { get; }

    public SileroDecoder Decoder { get; }

    /// <summary>
    /// Cuts <paramref name="model"/> (a serialized Silero VAD v5) in two; null, and <paramref name="reason"/>,
    /// when its graph is not laid out as v5's is.
    /// </summary>
    public static SileroGraph? Split(byte[] model, out string reason)
    {
        try
        {
            return SplitOrThrow(ModelProto.Parser.ParseFrom(model), out reason);
        }
        catch (InvalidProtocolBufferException e)
        {
            reason = $"it is not an ONNX model ({e.Message})";
            return null;
        }
    }

    private static SileroGraph? SplitOrThrow(ModelProto model, out string reason)
    {
        var top = model.Graph;
        var branching = top.Node.Where(n => n.OpType == "If").ToList();
        var input = top.Input.FirstOrDefault(i => i.Name == "input");
        if (branching.Count != 1 || input is null)
        {
            reason = "its graph is not one If on the sample rate with an 'input'";
            return null;
        }
        var branch = SixteenKilohertzBranch(top, branching[0]);
        if (branch is null)
        {
            reason = "no branch of its If is taken at 16 kHz";
            return null;
        }
        var constants = Constants(branch);
        var end = branch
            .Node.SelectMany(n => n.Output)
            .FirstOrDefault(o => o.EndsWith(EncoderEnd, StringComparison.Ordinal));
        var weightIh = Weight(
            constants,
            "decoder.rnn.weight_ih",
            4 * SileroDecoder.Hidden * SileroDecoder.Hidden
        );
        var weightHh = Weight(
            constants,
            "decoder.rnn.weight_hh",
            4 * SileroDecoder.Hidden * SileroDecoder.Hidden
        );
        var biasIh = Weight(constants, "decoder.rnn.bias_ih", 4 * SileroDecoder.Hidden);
        var biasHh = Weight(constants, "decoder.rnn.bias_hh", 4 * SileroDecoder.Hidden);
        var head = Weight(constants, "decoder.decoder.2.weight", SileroDecoder.Hidden);
        var headBias = Weight(constants, "decoder.decoder.2.bias", 1);
        if (
            end is null
            || weightIh is null
            || weightHh is null
            || biasIh is null
            || biasHh is null
            || head is null
            || headBias is null
        )
        {
            reason =
                $"its 16 kHz branch lacks the encoder output '*{EncoderEnd}' or the decoder's LSTM and head weights";
            return null;
        }

        var encoder = Ancestors(branch, end, out var outside);
        if (outside.Any(name => name != "input"))
        {
            reason = $"its encoder reads names from outside the branch ({string.Join(", ", outside)})";
            return null;
        }
        var graph = new GraphProto { Name = "silero_vad_encoder" };
        graph.Node.AddRange(encoder);
        graph.Initializer.AddRange(branch.Initializer.Where(i => encoder.Any(n => n.Input.Contains(i.Name))));
        AppendInputProjection(graph, end, weightIh, biasIh, biasHh);
        graph.Input.Add(input.Clone());
        graph.Output.Add(FloatOutput(GatesOutput, 4 * SileroDecoder.Hidden));
        var cut = new ModelProto
        {
            IrVersion = model.IrVersion,
            ProducerName = "realtimeser (Silero VAD v5 encoder)",
            Graph = graph,
        };
        cut.OpsetImport.AddRange(model.OpsetImport.Select(o => o.Clone()));
        reason = "";
        return new SileroGraph(cut.ToByteArray(), new SileroDecoder(weightHh, head, headBias[0]));
    }

    /// <summary>The branch the graph takes when its "sr" input is 16000.</summary>
    private static GraphProto? SixteenKilohertzBranch(GraphProto top, NodeProto branching)
    {
        var condition = top.Node.FirstOrDefault(n => n.Output.Contains(branching.Input[0]));
        if (condition is not { OpType: "Equal" } || !condition.Input.Contains("sr"))
        {
            return null;
        }
        var compared = condition.Input.First(i => i != "sr");
        var constant = Constants(top).GetValueOrDefault(compared);
        if (constant is null || Int64(constant) is not { } rate)
        {
            return null;
        }
        var name = rate == SileroVadModel.SampleRate ? "then_branch" : "else_branch";
        return branching.Attribute.FirstOrDefault(a => a.Name == name)?.G;
    }

    /// <summary>The graph's constants by name: Constant nodes' values and initializers.</summary>
    private static Dictionary<string, TensorProto> Constants(GraphProto graph)
    {
        var constants = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        foreach (var node in graph.Node.Where(n => n.OpType == "Constant" && n.Output.Count == 1))
        {
            if (node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value)
            {
                constants[node.Output[0]] = value;
            }
        }
        return constants;
    }

    /// <summary>The nodes <paramref name="end"/> depends on, in graph order; <paramref name="outside"/>: names none of them makes.</summary>
    private static List<NodeProto> Ancestors(GraphProto graph, string end, out List<string> outside)
    {
        var needed = new HashSet<string>(StringComparer.Ordinal) { end };
        var made = new HashSet<string>(graph.Initializer.Select(i => i.Name), StringComparer.Ordinal);
        var kept = new List<NodeProto>();
        var last = graph.Node.ToList().FindIndex(n => n.Output.Contains(end));
        for (var i = last; i >= 0; i--)
        {
            var node = graph.Node[i];
            if (node.Output.Any(needed.Contains))
            {
                kept.Add(node);
                made.UnionWith(node.Output);
                needed.UnionWith(node.Input.Where(n => n.Length > 0));
            }
        }
        kept.Reverse();
        outside = needed.Where(n => !made.Contains(n)).ToList();
        return kept;
    }

    /// <summary>
    /// Adds x·W_ihᵀ + b_ih + b_hh after the encoder: the part of the LSTM step that does not depend on the
    /// state, computed for all the batch's frames in one matrix product.
    /// </summary>
    private static void AppendInputProjection(
        GraphProto graph,
        string encoded,
        float[] weightIh,
        float[] biasIh,
        float[] biasHh
    )
    {
        const int hidden = SileroDecoder.Hidden;
        var transposed = new float[hidden * 4 * hidden];
        for (var g = 0; g < 4 * hidden; g++)
        {
            for (var j = 0; j < hidden; j++)
            {
                transposed[j * 4 * hidden + g] = weightIh[g * hidden + j];
            }
        }
        var bias = new float[4 * hidden];
        for (var g = 0; g < bias.Length; g++)
        {
            bias[g] = biasIh[g] + biasHh[g];
        }
        graph.Initializer.Add(FloatTensor("ser_w_ih_t", transposed, hidden, 4 * hidden));
        graph.Initializer.Add(FloatTensor("ser_bias", bias, 4 * hidden));
        var rows = new TensorProto { Name = "ser_rows", DataType = (int)TensorProto.Types.DataType.Int64 };
        rows.Dims.Add(2);
        rows.Int64Data.Add([-1, hidden]);
        graph.Initializer.Add(rows);
        graph.Node.Add(Node("Reshape", [encoded, "ser_rows"], "ser_encoded"));
        graph.Node.Add(Node("MatMul", ["ser_encoded", "ser_w_ih_t"], "ser_projected"));
        graph.Node.Add(Node("Add", ["ser_projected", "ser_bias"], GatesOutput));
    }

    private static NodeProto Node(string op, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.Add(inputs);
        node.Output.Add(output);
        return node;
    }

    private static TensorProto FloatTensor(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())),
        };
        tensor.Dims.Add(dims);
        return tensor;
    }

    private static ValueInfoProto FloatOutput(string name, int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "frames" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor
                {
                    ElemType = (int)TensorProto.Types.DataType.Float,
                    Shape = shape,
                },
            },
        };
    }

    /// <summary>The float constant whose name ends with <paramref name="suffix"/>, if it has <paramref name="length"/> values.</summary>
    private static float[]? Weight(Dictionary<string, TensorProto> constants, string suffix, int length)
    {
        var tensor = constants.FirstOrDefault(c => c.Key.EndsWith(suffix, StringComparison.Ordinal)).Value;
        if (tensor is null || tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            return null;
        }
        var values =
            tensor.FloatData.Count > 0
                ? tensor.FloatData.ToArray()
                : MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
        return values.Length == length ? values : null;
    }

    private static long? Int64(TensorProto tensor) =>
        tensor.DataType != (int)TensorProto.Types.DataType.Int64 ? null
        : tensor.Int64Data.Count == 1 ? tensor.Int64Data[0]
        : tensor.RawData.Length == sizeof(long) ? MemoryMarshal.Read<long>(tensor.RawData.Span)
        : null;
}
