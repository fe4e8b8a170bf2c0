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

    private readonly OnnxSession _session;

    private SileroVadModel(OnnxSession session)
    {
        _session = session;
        Require("input", "input", _session.Inputs, TensorElementType.Float);
        Require("input", "state", _session.Inputs, TensorElementType.Float);
        Require("input", "sr", _session.Inputs, TensorElementType.Int64);
        Require("output", "output", _session.Outputs, TensorElementType.Float);
        Require("output", "stateN", _session.Outputs, TensorElementType.Float);
    }

    public string ModelPath => _session.ModelPath;

    /// <summary>Loads the model from <paramref name="path"/>, or from <see cref="ModelLocator.SileroVad"/>.</summary>
    public static SileroVadModel Load(string? path = null, OnnxSessionOptions? options = null)
    {
        path ??= ModelLocator.SileroVad();
        var session = OnnxSession.Load(path, options ?? new OnnxSessionOptions());
        try
        {
            return new SileroVadModel(session);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Speech probability of one 512-sample frame; advances the stream's state.</summary>
    public float Process(SileroVadState state, ReadOnlySpan<float> frame)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (frame.Length != FrameSamples)
        {
            throw new ArgumentException(
                $"Silero VAD takes {FrameSamples}-sample frames; got {frame.Length}."
            );
        }
        var input = state.Input;
        frame.CopyTo(input.AsSpan(ContextSamples));
        SanitizeInPlace(input.AsSpan(ContextSamples));

        // Inputs and outputs are views over the state's own buffers, built once per state: a frame
        // allocates no tensors and copies no results.
        _session.RunInto(state.RunInputs, state.RunOutputs);
        state.Advance();
        // The tail of this frame is the next frame's context, as in the reference wrapper.
        input.AsSpan(FrameSamples, ContextSamples).CopyTo(input);
        return state.Probability;
    }

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

    private static void SanitizeInPlace(Span<float> samples)
    {
        // NaN or infinite input would poison the recurrent state for the rest of the stream.
        for (var i = 0; i < samples.Length; i++)
        {
            var x = samples[i];
            if (!float.IsFinite(x))
            {
                samples[i] = 0;
            }
            else if (x > 1f)
            {
                samples[i] = 1f;
            }
            else if (x < -1f)
            {
                samples[i] = -1f;
            }
        }
    }
}

/// <summary>
/// One stream's (one channel's) Silero state: the 64-sample context and the recurrent state. The recurrent
/// state is double-buffered (ORT reads one buffer and writes the other; the two swap after each frame) so
/// the model never reads and writes the same memory in one run.
/// </summary>
public sealed class SileroVadState
{
    private static readonly long[] s_sampleRate = [SileroVadModel.SampleRate];

    private readonly float[] _probability = new float[1];
    private readonly float[][] _recurrent =
    [
        new float[SileroVadModel.StateSize],
        new float[SileroVadModel.StateSize],
    ];
    private readonly NamedTensor[][] _inputs;
    private readonly OutputBuffer[][] _outputs;
    private int _current;

    public SileroVadState()
    {
        _inputs = [Inputs(_recurrent[0]), Inputs(_recurrent[1])];
        _outputs = [Outputs(_recurrent[1]), Outputs(_recurrent[0])];
    }

    internal float[] Input { get; } = new float[SileroVadModel.ContextSamples + SileroVadModel.FrameSamples];

    /// <summary>The recurrent state the next frame reads.</summary>
    internal float[] Recurrent => _recurrent[_current];

    internal NamedTensor[] RunInputs => _inputs[_current];

    internal OutputBuffer[] RunOutputs => _outputs[_current];

    /// <summary>The speech probability of the last frame run.</summary>
    internal float Probability => _probability[0];

    /// <summary>After a run: the state just written becomes the one the next frame reads.</summary>
    internal void Advance() => _current ^= 1;

    public void Reset()
    {
        Array.Clear(Input);
        Array.Clear(_recurrent[0]);
        Array.Clear(_recurrent[1]);
        _probability[0] = 0;
        _current = 0;
    }

    private NamedTensor[] Inputs(float[] recurrent) =>
        [
            NamedTensor.Float(
                "input",
                Input,
                [1, SileroVadModel.ContextSamples + SileroVadModel.FrameSamples]
            ),
            NamedTensor.Float("state", recurrent, [2, 1, 128]),
            NamedTensor.Int64("sr", s_sampleRate, []),
        ];

    private OutputBuffer[] Outputs(float[] recurrentNext) =>
        [
            new OutputBuffer("output", _probability, [1, 1]),
            new OutputBuffer("stateN", recurrentNext, [2, 1, 128]),
        ];
}
