using RealtimeSer.Onnx;

namespace RealtimeSer.Core.Vad;

/// <summary>
/// The Silero VAD v5 network, loaded once and shared by every stream (ONNX Runtime runs one session from
/// many threads). Per-stream recurrent state lives in <see cref="SileroVadState"/>, never here.
/// </summary>
public sealed class SileroVadModel : IDisposable
{
    public const int SampleRate = 16000;

    /// <summary>Samples per frame at 16 kHz (32 ms): the only frame size v5 accepts at this rate.</summary>
    public const int FrameSamples = 512;

    /// <summary>Samples of the previous frame that v5 expects in front of each frame.</summary>
    public const int ContextSamples = 64;

    internal const int StateSize = 2 * 128;

    /// <summary>Samples in one row of the model's input: the context, then the frame.</summary>
    internal const int RowSamples = ContextSamples + FrameSamples;

    private readonly OnnxSession _session;

    private SileroVadModel(OnnxSession session, SileroDecoder? decoder, string wholeGraphReason)
    {
        _session = session;
        Decoder = decoder;
        WholeGraphReason = wholeGraphReason;
        if (decoder is null)
        {
            Require("input", "input", _session.Inputs, TensorElementType.Float);
            Require("input", "state", _session.Inputs, TensorElementType.Float);
            Require("input", "sr", _session.Inputs, TensorElementType.Int64);
            Require("output", "output", _session.Outputs, TensorElementType.Float);
            Require("output", "stateN", _session.Outputs, TensorElementType.Float);
        }
    }

    public string ModelPath => _session.ModelPath;

    /// <summary>
    /// The ONNX session (its name and the shapes it has run, for benchmarks and metrics): the encoder's when the
    /// graph is split (<see cref="IsSplit"/>), else the whole model's.
    /// </summary>
    public OnnxSession Session => _session;

    /// <summary>
    /// True when Silero runs as its encoder graph, batched over a channel's frames as well as over channels, and
    /// its LSTM step in C# (<see cref="SileroGraph"/>); false when each run takes one frame of each channel
    /// through the whole graph (<see cref="WholeGraphReason"/> says why).
    /// </summary>
    public bool IsSplit => Decoder is not null;

    /// <summary>Why the whole graph runs (asked for, or the file is not laid out as v5's graph is); empty when split.</summary>
    public string WholeGraphReason { get; private set; }

    internal SileroDecoder? Decoder { get; }

    /// <summary>How the split encoder runs: "as matrix products" or "as its convolutions"; empty for the whole graph.</summary>
    public string Encoder { get; private init; } = "";

    private long _decoderTicks;

    /// <summary>Time spent scoring frames, summed over threads: the session's runs and, when split, the LSTM steps.</summary>
    public TimeSpan BusyTime =>
        _session.BusyTime
        + System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _decoderTicks));

    /// <summary>Counts LSTM steps begun at <paramref name="started"/> (a timestamp) in <see cref="BusyTime"/>.</summary>
    internal void AddDecoderTime(long started) =>
        Interlocked.Add(ref _decoderTicks, System.Diagnostics.Stopwatch.GetTimestamp() - started);

    /// <summary>
    /// Loads the model from <paramref name="path"/>, or from <see cref="ModelLocator.SileroVad"/>. It runs on the
    /// CPU unless <paramref name="options"/> asks for CUDA by name (Auto means the CPU here, in the GPU build
    /// too): a 32 ms frame is far less work than a GPU run's kernel launches and host-device copies cost. Measure before moving it (`ser bench vad`, tools/gpu/check).
    /// The graph is split (<see cref="IsSplit"/>), its encoder as matrix products or else as its own convolutions,
    /// unless <paramref name="wholeGraph"/> is set, or the file cannot be split, or the split's probabilities differ
    /// from the whole graph's on a test signal: then the whole graph runs, and <paramref name="options"/>' log says
    /// why.
    /// </summary>
    public static SileroVadModel Load(
        string? path = null,
        OnnxSessionOptions? options = null,
        bool wholeGraph = false
    )
    {
        path ??= ModelLocator.SileroVad();
        options ??= new OnnxSessionOptions();
        options = options with
        {
            Provider =
                options.Provider == ExecutionProviderKind.Cuda
                    ? ExecutionProviderKind.Cuda
                    : ExecutionProviderKind.Cpu,
            LogId = options.LogId ?? "silero_vad",
        };
        var whole = Whole(OnnxSession.Load(path, options), "asked for");
        if (wholeGraph)
        {
            return whole;
        }
        // The encoder as matrix products first, then as the graph's own convolutions; the whole graph if neither
        // can be made or matches it.
        var bytes = File.ReadAllBytes(whole.ModelPath);
        var reasons = new List<string>();
        foreach (var asMatMuls in new[] { true, false })
        {
            var graph = SileroGraph.Split(bytes, asMatMuls, out var reason);
            var form = asMatMuls ? "as matrix products" : "as its convolutions";
            if (graph is null)
            {
                reasons.Add($"its encoder cannot be cut out {form}: {reason}");
                continue;
            }
            OnnxSession encoder;
            try
            {
                encoder = OnnxSession.Load(whole.ModelPath, graph.Encoder, options);
            }
            catch (OnnxException e)
            {
                // ONNX Runtime refused the graph we built: the next form, or the whole graph, still serves.
                reasons.Add($"its encoder {form} does not load: {e.Message}");
                continue;
            }
            var split = new SileroVadModel(encoder, graph.Decoder, "") { Encoder = form };
            if (SplitDiffers(whole, split) is { } difference)
            {
                split.Dispose();
                reasons.Add($"its encoder {form}: {difference}");
                continue;
            }
            whole.Dispose();
            if (reasons.Count > 0)
            {
                options.Log?.Invoke($"silero_vad: encoder {form}; {string.Join("; ", reasons)}");
            }
            return split;
        }
        return Fallback(whole, string.Join("; ", reasons), options);
    }

    private static SileroVadModel Whole(OnnxSession session, string reason)
    {
        try
        {
            return new SileroVadModel(session, null, reason);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static SileroVadModel Fallback(SileroVadModel whole, string reason, OnnxSessionOptions options)
    {
        options.Log?.Invoke($"silero_vad: running the whole graph, one frame per channel per run: {reason}");
        whole.WholeGraphReason = reason;
        return whole;
    }

    /// <summary>
    /// Why the split model cannot stand in for the whole one, or null: both score the same two seconds of
    /// speech-like noise, frame by frame with state carried, and must agree to 1e-4 on every frame.
    /// </summary>
    private static string? SplitDiffers(SileroVadModel whole, SileroVadModel split)
    {
        var random = new Random(5);
        var wholeState = new SileroVadState();
        var splitState = new SileroVadState();
        var frame = new float[FrameSamples];
        var worst = 0f;
        for (var f = 0; f < 62; f++)
        {
            var loud = f % 20 < 12 ? 0.3 : 0.003;
            for (var i = 0; i < frame.Length; i++)
            {
                var t = f * FrameSamples + i;
                frame[i] = (float)(
                    loud * (Math.Sin(t * 0.07) * Math.Sin(t * 0.0011) + random.NextDouble() - 0.5)
                );
            }
            worst = Math.Max(
                worst,
                Math.Abs(whole.Process(wholeState, frame) - split.Process(splitState, frame))
            );
        }
        return worst <= 1e-4f
            ? null
            : $"its split graph's probabilities differ from the whole graph's by up to {worst:G3} (more than 1e-4)";
    }

    /// <summary>Speech probability of one 512-sample frame; advances the stream's state.</summary>
    public float Process(SileroVadState state, ReadOnlySpan<float> frame)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Load(frame);
        // Inputs and outputs are views over the state's own buffers, built once per state: a frame
        // allocates no tensors and copies no results.
        if (Decoder is { } decoder)
        {
            _session.RunInto(state.EncoderInputs, state.EncoderOutputs);
            state.ShiftContext();
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var probability = decoder.Step(state.Gates, state.Recurrent);
            AddDecoderTime(started);
            return probability;
        }
        _session.RunInto(state.RunInputs, state.RunOutputs);
        return state.Complete();
    }

    /// <summary>One run over many streams' frames (the batch's inputs and outputs are packed by the caller).</summary>
    internal void Run(scoped ReadOnlySpan<NamedTensor> inputs, scoped ReadOnlySpan<OutputBuffer> outputs) =>
        _session.RunInto(inputs, outputs);

    public void Dispose() => _session.Dispose();

    private void Require(string kind, string name, IReadOnlyList<TensorInfo> declared, TensorElementType type)
    {
        if (!declared.Any(i => i.Name == name && i.ElementType == type))
        {
            throw new InvalidDataException(
                $"{_session.ModelPath} is not a Silero VAD v5 model: it has no {type} {kind} '{name}' "
                    + $"({kind}s: {string.Join(", ", declared.Select(i => i.Name))}). "
                    + "Run tools/bootstrap to fetch silero_vad_v5.onnx, or point REALTIMESER_VAD_MODEL at it."
            );
        }
    }
}
