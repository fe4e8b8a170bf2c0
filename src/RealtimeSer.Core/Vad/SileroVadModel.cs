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

    /// <summary>The ONNX session (its name and the shapes it has run, for benchmarks and metrics).</summary>
    public OnnxSession Session => _session;

    /// <summary>
    /// Loads the model from <paramref name="path"/>, or from <see cref="ModelLocator.SileroVad"/>. It runs on the
    /// CPU unless <paramref name="options"/> asks for CUDA by name (Auto means the CPU here, in the GPU build
    /// too): a 32 ms frame is far less work than a GPU run's kernel launches and host-device copies cost. Measure before moving it (`ser bench vad`, tools/gpu/check).
    /// </summary>
    public static SileroVadModel Load(string? path = null, OnnxSessionOptions? options = null)
    {
        path ??= ModelLocator.SileroVad();
        options ??= new OnnxSessionOptions();
        var session = OnnxSession.Load(
            path,
            options with
            {
                Provider =
                    options.Provider == ExecutionProviderKind.Cuda
                        ? ExecutionProviderKind.Cuda
                        : ExecutionProviderKind.Cpu,
                LogId = options.LogId ?? "silero_vad",
            }
        );
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
        state.Load(frame);
        // Inputs and outputs are views over the state's own buffers, built once per state: a frame
        // allocates no tensors and copies no results.
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
