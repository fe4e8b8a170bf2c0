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
    private const string PaddedEnd = "/stft/padding/Pad_output_0";

    // v5's encoder at 16 kHz: a 576-sample row, reflect-padded to 640, an STFT of 256-sample windows every 128
    // samples (4 windows, 129 bins), then four 3-tap convolutions (stride 1, 2, 2, 1; padding 1).
    private const int Bins = 129;
    private const int Windows = 4;
    private const int WindowLength = 256;
    private const int Hop = 128;

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
    public static SileroGraph? Split(byte[] model, out string reason) =>
        Split(model, asMatMuls: true, out reason);

    /// <summary>
    /// As <see cref="Split(byte[], out string)"/>; with <paramref name="asMatMuls"/> the encoder's STFT and
    /// convolutions are rewritten as matrix products over all the batch's frames (<see cref="AppendMatMulEncoder"/>),
    /// else the encoder is the graph's own nodes.
    /// </summary>
    public static SileroGraph? Split(byte[] model, bool asMatMuls, out string reason)
    {
        try
        {
            return SplitOrThrow(ModelProto.Parser.ParseFrom(model), asMatMuls, out reason);
        }
        catch (InvalidProtocolBufferException e)
        {
            reason = $"it is not an ONNX model ({e.Message})";
            return null;
        }
    }

    private static SileroGraph? SplitOrThrow(ModelProto model, bool asMatMuls, out string reason)
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

        var padded = branch
            .Node.SelectMany(n => n.Output)
            .FirstOrDefault(o => o.EndsWith(PaddedEnd, StringComparison.Ordinal));
        var convolutions = asMatMuls ? EncoderWeights.Find(constants) : null;
        if (asMatMuls && (padded is null || convolutions is null))
        {
            reason =
                $"its 16 kHz branch lacks the padded input '*{PaddedEnd}' or the STFT basis and convolutions of v5's shapes";
            return null;
        }
        var kept = asMatMuls ? padded! : end;
        var encoder = Ancestors(branch, kept, out var outside);
        if (outside.Any(name => name != "input"))
        {
            reason = $"its encoder reads names from outside the branch ({string.Join(", ", outside)})";
            return null;
        }
        var graph = new GraphProto { Name = "silero_vad_encoder" };
        graph.Node.AddRange(encoder);
        graph.Initializer.AddRange(branch.Initializer.Where(i => encoder.Any(n => n.Input.Contains(i.Name))));
        var encoded = asMatMuls ? AppendMatMulEncoder(graph, kept, convolutions!) : end;
        AppendInputProjection(graph, encoded, weightIh, biasIh, biasHh);
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

    /// <summary>v5's STFT basis and convolution weights, each checked for its shape.</summary>
    private sealed record EncoderWeights(float[] Basis, float[][] Weights, float[][] Biases)
    {
        // Output channels, input channels of each convolution.
        public static readonly (int Out, int In)[] Layers = [(128, Bins), (64, 128), (64, 64), (128, 64)];

        public static EncoderWeights? Find(Dictionary<string, TensorProto> constants)
        {
            var basis = Weight(constants, "stft.forward_basis_buffer", 2 * Bins * WindowLength);
            var weights = Layers
                .Select((l, i) => Weight(constants, $"encoder.{i}.reparam_conv.weight", l.Out * l.In * 3))
                .ToArray();
            var biases = Layers
                .Select((l, i) => Weight(constants, $"encoder.{i}.reparam_conv.bias", l.Out))
                .ToArray();
            return basis is null || weights.Any(w => w is null) || biases.Any(b => b is null)
                ? null
                : new EncoderWeights(basis, weights!, biases!);
        }
    }

    /// <summary>
    /// The encoder after the padded row [frames, 640] as matrix products over all the batch's frames: ONNX Runtime
    /// runs a convolution image by image, so as convolutions each frame's STFT is a product with 4 columns and each
    /// 3-tap layer one with 4, 2 or 1; here the STFT is one [frames·4, 256]×[256, 258] product and each layer one
    /// over all the frames' time steps (the taps side by side, im2col). Returns the name of the [frames, 128] output.
    /// </summary>
    private static string AppendMatMulEncoder(GraphProto graph, string padded, EncoderWeights weights)
    {
        // Windows at 0 and 256, and at 128 and 384, interleaved back into time order: [frames, 4, 256].
        graph.Node.Add(
            Node("Slice", [padded, Ints(graph, 0), Ints(graph, 2 * WindowLength), Ints(graph, 1)], "ser_even")
        );
        graph.Node.Add(
            Node(
                "Slice",
                [padded, Ints(graph, Hop), Ints(graph, Hop + 2 * WindowLength), Ints(graph, 1)],
                "ser_odd"
            )
        );
        graph.Node.Add(
            Node("Reshape", ["ser_even", Ints(graph, -1, 2, 1, WindowLength)], "ser_even_windows")
        );
        graph.Node.Add(Node("Reshape", ["ser_odd", Ints(graph, -1, 2, 1, WindowLength)], "ser_odd_windows"));
        graph.Node.Add(Node("Concat", ["ser_even_windows", "ser_odd_windows"], "ser_pairs", ("axis", 2)));
        graph.Node.Add(Node("Reshape", ["ser_pairs", Ints(graph, -1, Windows, WindowLength)], "ser_windows"));

        // The STFT: real parts in the basis's first 129 rows, imaginary in the rest; magnitudes [frames, 4, 129].
        var basisT = new float[WindowLength * 2 * Bins];
        for (var f = 0; f < 2 * Bins; f++)
        {
            for (var t = 0; t < WindowLength; t++)
            {
                basisT[t * 2 * Bins + f] = weights.Basis[f * WindowLength + t];
            }
        }
        graph.Initializer.Add(FloatTensor("ser_basis_t", basisT, WindowLength, 2 * Bins));
        graph.Node.Add(Node("MatMul", ["ser_windows", "ser_basis_t"], "ser_spectrum"));
        graph.Node.Add(
            Node("Slice", ["ser_spectrum", Ints(graph, 0), Ints(graph, Bins), Ints(graph, 2)], "ser_real")
        );
        graph.Node.Add(
            Node(
                "Slice",
                ["ser_spectrum", Ints(graph, Bins), Ints(graph, 2 * Bins), Ints(graph, 2)],
                "ser_imag"
            )
        );
        graph.Node.Add(Node("Mul", ["ser_real", "ser_real"], "ser_real2"));
        graph.Node.Add(Node("Mul", ["ser_imag", "ser_imag"], "ser_imag2"));
        graph.Node.Add(Node("Add", ["ser_real2", "ser_imag2"], "ser_power"));
        graph.Node.Add(Node("Sqrt", ["ser_power"], "ser_layer0_in"));

        // Layer i reads [frames, T, in] and writes [frames, T', out]; zero padding of one step each side.
        var steps = Windows;
        for (var i = 0; i < EncoderWeights.Layers.Length; i++)
        {
            var (outputs, inputs) = EncoderWeights.Layers[i];
            var stride = i is 1 or 2 ? 2 : 1;
            var outSteps = (steps + 2 - 3) / stride + 1;
            var input = $"ser_layer{i}_in";
            var paddedIn = $"ser_layer{i}_padded";
            graph.Node.Add(Node("Pad", [input, Ints(graph, 0, 1, 0, 0, 1, 0)], paddedIn));
            // Tap k of output step t reads padded step stride·t + k: a strided slice per tap, side by side.
            var taps = new string[3];
            for (var k = 0; k < 3; k++)
            {
                taps[k] = $"ser_layer{i}_tap{k}";
                graph.Node.Add(
                    Node(
                        "Slice",
                        [
                            paddedIn,
                            Ints(graph, k),
                            Ints(graph, k + stride * (outSteps - 1) + 1),
                            Ints(graph, 1),
                            Ints(graph, stride),
                        ],
                        taps[k]
                    )
                );
            }
            graph.Node.Add(Node("Concat", taps, $"ser_layer{i}_columns", ("axis", 2)));
            // The weight [out, in, 3] as a [3·in, out] matrix whose row k·in + c holds w[·, c, k].
            var matrix = new float[3 * inputs * outputs];
            var w = weights.Weights[i];
            for (var o = 0; o < outputs; o++)
            {
                for (var c = 0; c < inputs; c++)
                {
                    for (var k = 0; k < 3; k++)
                    {
                        matrix[(k * inputs + c) * outputs + o] = w[(o * inputs + c) * 3 + k];
                    }
                }
            }
            graph.Initializer.Add(FloatTensor($"ser_layer{i}_w", matrix, 3 * inputs, outputs));
            graph.Initializer.Add(FloatTensor($"ser_layer{i}_b", weights.Biases[i], outputs));
            graph.Node.Add(
                Node("MatMul", [$"ser_layer{i}_columns", $"ser_layer{i}_w"], $"ser_layer{i}_product")
            );
            graph.Node.Add(Node("Add", [$"ser_layer{i}_product", $"ser_layer{i}_b"], $"ser_layer{i}_sum"));
            graph.Node.Add(Node("Relu", [$"ser_layer{i}_sum"], $"ser_layer{i + 1}_in"));
            steps = outSteps;
        }
        return $"ser_layer{EncoderWeights.Layers.Length}_in";
    }

    /// <summary>A one-dimensional int64 initializer holding <paramref name="values"/>; returns its name.</summary>
    private static string Ints(GraphProto graph, params long[] values)
    {
        var name = $"ser_ints_{string.Join('_', values).Replace('-', 'm')}";
        if (graph.Initializer.All(i => i.Name != name))
        {
            var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            tensor.Dims.Add(values.Length);
            tensor.Int64Data.Add(values);
            graph.Initializer.Add(tensor);
        }
        return name;
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

    private static NodeProto Node(
        string op,
        string[] inputs,
        string output,
        params (string Name, long Value)[] attributes
    )
    {
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.Add(inputs);
        node.Output.Add(output);
        foreach (var (name, value) in attributes)
        {
            node.Attribute.Add(
                new AttributeProto
                {
                    Name = name,
                    Type = AttributeProto.Types.AttributeType.Int,
                    I = value,
                }
            );
        }
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
