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
    private readonly long[] _sampleRate = [SampleRate];

    private SileroVadModel(OnnxSession session)
    {
        _session = session;
        RequireInput("input", TensorElementType.Float);
        RequireInput("state", TensorElementType.Float);
        RequireInput("sr", TensorElementType.Int64);
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

        var outputs = _session.Run([
            NamedTensor.Float("input", input, [1, ContextSamples + FrameSamples]),
            NamedTensor.Float("state", state.Recurrent, [2, 1, 128]),
            NamedTensor.Int64("sr", _sampleRate, []),
        ]);
        var probability = outputs[0].FloatData![0];
        outputs[1].FloatData!.AsSpan(0, StateSize).CopyTo(state.Recurrent);
        // The tail of this frame is the next frame's context, as in the reference wrapper.
        input.AsSpan(FrameSamples, ContextSamples).CopyTo(input);
        return probability;
    }

    public void Dispose() => _session.Dispose();

    private void RequireInput(string name, TensorElementType type)
    {
        if (!_session.Inputs.Any(i => i.Name == name && i.ElementType == type))
        {
            throw new InvalidDataException(
                $"{_session.ModelPath} is not a Silero VAD v5 model: it has no {type} input '{name}' "
                    + $"(inputs: {string.Join(", ", _session.Inputs.Select(i => i.Name))}). "
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

/// <summary>One stream's (one channel's) Silero state: the recurrent state and the 64-sample context.</summary>
public sealed class SileroVadState
{
    internal float[] Input { get; } = new float[SileroVadModel.ContextSamples + SileroVadModel.FrameSamples];

    internal float[] Recurrent { get; } = new float[SileroVadModel.StateSize];

    public void Reset()
    {
        Array.Clear(Input);
        Array.Clear(Recurrent);
    }
}
