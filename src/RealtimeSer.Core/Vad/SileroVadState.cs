using RealtimeSer.Core.Ingest;
using RealtimeSer.Onnx;

namespace RealtimeSer.Core.Vad;

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
    private float[]? _gates;
    private NamedTensor[]? _encoderInputs;
    private OutputBuffer[]? _encoderOutputs;
    private int _current;

    public SileroVadState()
    {
        _inputs = [Inputs(_recurrent[0]), Inputs(_recurrent[1])];
        _outputs = [Outputs(_recurrent[1]), Outputs(_recurrent[0])];
    }

    internal float[] Input { get; } = new float[SileroVadModel.RowSamples];

    /// <summary>
    /// The recurrent state the next frame reads: h then c. The split model's LSTM step updates it in place; the
    /// whole graph writes <see cref="NextRecurrent"/>.
    /// </summary>
    internal float[] Recurrent => _recurrent[_current];

    internal NamedTensor[] RunInputs => _inputs[_current];

    internal OutputBuffer[] RunOutputs => _outputs[_current];

    /// <summary>The split model's encoder output for this stream's frame (a frame at a time, unbatched).</summary>
    internal float[] Gates => _gates ??= new float[4 * SileroDecoder.Hidden];

    internal NamedTensor[] EncoderInputs =>
        _encoderInputs ??= [NamedTensor.Float("input", Input, [1, SileroVadModel.RowSamples])];

    internal OutputBuffer[] EncoderOutputs =>
        _encoderOutputs ??= [new OutputBuffer(SileroGraph.GatesOutput, Gates, [1, 4 * SileroDecoder.Hidden])];

    /// <summary>The buffer the run writes the next recurrent state into.</summary>
    internal float[] NextRecurrent => _recurrent[_current ^ 1];

    /// <summary>Puts a frame behind the context, ready for a run.</summary>
    internal void Load(ReadOnlySpan<float> frame)
    {
        if (frame.Length != SileroVadModel.FrameSamples)
        {
            throw new ArgumentException(
                $"Silero VAD takes {SileroVadModel.FrameSamples}-sample frames; got {frame.Length}."
            );
        }
        var samples = Input.AsSpan(SileroVadModel.ContextSamples);
        frame.CopyTo(samples);
        SanitizeInPlace(samples);
    }

    /// <summary>After a run wrote <see cref="NextRecurrent"/> and the probability: moves on to the next frame.</summary>
    internal float Complete()
    {
        // The state just written becomes the one the next frame reads.
        _current ^= 1;
        ShiftContext();
        return _probability[0];
    }

    /// <summary>Once the loaded frame's row has been read: its tail becomes the next frame's context, as in the reference wrapper.</summary>
    internal void ShiftContext() =>
        Input.AsSpan(SileroVadModel.FrameSamples, SileroVadModel.ContextSamples).CopyTo(Input);

    /// <summary>After a batched run: takes the probability the batch computed for this stream.</summary>
    internal float Complete(float probability)
    {
        _probability[0] = probability;
        return Complete();
    }

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
            NamedTensor.Float("input", Input, [1, SileroVadModel.RowSamples]),
            NamedTensor.Float("state", recurrent, [2, 1, 128]),
            NamedTensor.Int64("sr", s_sampleRate, []),
        ];

    private OutputBuffer[] Outputs(float[] recurrentNext) =>
        [
            new OutputBuffer("output", _probability, [1, 1]),
            new OutputBuffer("stateN", recurrentNext, [2, 1, 128]),
        ];

    private static void SanitizeInPlace(Span<float> samples)
    {
        // NaN or infinite input would poison the recurrent state for the rest of the stream.
        if (SampleRange.AllWithinUnit(samples))
        {
            return;
        }
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
