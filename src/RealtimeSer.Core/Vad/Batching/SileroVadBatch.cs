using RealtimeSer.Onnx;

namespace RealtimeSer.Core.Vad.Batching;

/// <summary>
/// Packs up to <see cref="Capacity"/> streams' frames into one Silero run and unpacks the results into each
/// stream's own state: inputs [B, 576] and recurrent state [2, B, 128] in, probabilities [B, 1] and the next
/// state [2, B, 128] out. Silero v5's rows do not interact, so a stream's probability does not depend on
/// which other streams share its batch. Buffers and tensor descriptions are made once per batch size, so a
/// run allocates nothing the size of its data. Not thread-safe: one per worker.
/// </summary>
public sealed class SileroVadBatch
{
    private const int Row = SileroVadModel.ContextSamples + SileroVadModel.FrameSamples;
    private const int Half = SileroVadModel.StateSize / 2; // one LSTM layer's state: [1, 128] of [2, 1, 128]

    private static readonly long[] s_sampleRate = [SileroVadModel.SampleRate];

    private readonly float[] _input;
    private readonly float[] _state;
    private readonly float[] _probabilities;
    private readonly float[] _nextState;
    private readonly NamedTensor[]?[] _inputs;
    private readonly OutputBuffer[]?[] _outputs;

    public SileroVadBatch(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _input = new float[capacity * Row];
        _state = new float[capacity * SileroVadModel.StateSize];
        _probabilities = new float[capacity];
        _nextState = new float[capacity * SileroVadModel.StateSize];
        _inputs = new NamedTensor[]?[capacity + 1];
        _outputs = new OutputBuffer[]?[capacity + 1];
    }

    public int Capacity { get; }

    /// <summary>
    /// Scores frame i of <paramref name="frames"/> (512 samples each, one after another) with
    /// <paramref name="states"/>[i] in one model run; each state moves on to its next frame.
    /// </summary>
    public void Run(
        SileroVadModel model,
        ReadOnlySpan<SileroVadState> states,
        ReadOnlySpan<float> frames,
        Span<float> probabilities
    )
    {
        ArgumentNullException.ThrowIfNull(model);
        if (frames.Length != states.Length * SileroVadModel.FrameSamples)
        {
            throw new ArgumentException(
                $"{states.Length} states need {states.Length * SileroVadModel.FrameSamples} samples; got {frames.Length}."
            );
        }
        for (var b = 0; b < states.Length; b++)
        {
            states[b].Load(frames.Slice(b * SileroVadModel.FrameSamples, SileroVadModel.FrameSamples));
        }
        Run(model, states, probabilities);
    }

    /// <summary>
    /// Runs every state's loaded frame (see <see cref="SileroVadState.Load"/>) in one model run and moves each
    /// state on; <paramref name="probabilities"/>[i] receives the speech probability of <paramref name="states"/>[i].
    /// </summary>
    internal void Run(SileroVadModel model, ReadOnlySpan<SileroVadState> states, Span<float> probabilities)
    {
        var count = states.Length;
        if (count == 0)
        {
            return;
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Capacity);
        for (var b = 0; b < count; b++)
        {
            var state = states[b];
            state.Input.CopyTo(_input, b * Row);
            var recurrent = state.Recurrent;
            recurrent.AsSpan(0, Half).CopyTo(_state.AsSpan(b * Half));
            recurrent.AsSpan(Half, Half).CopyTo(_state.AsSpan((count + b) * Half));
        }
        model.Run(_inputs[count] ??= Inputs(count), _outputs[count] ??= Outputs(count));
        for (var b = 0; b < count; b++)
        {
            var state = states[b];
            var next = state.NextRecurrent;
            _nextState.AsSpan(b * Half, Half).CopyTo(next);
            _nextState.AsSpan((count + b) * Half, Half).CopyTo(next.AsSpan(Half));
            probabilities[b] = state.Complete(_probabilities[b]);
        }
    }

    private NamedTensor[] Inputs(int count) =>
        [
            NamedTensor.Float("input", _input.AsMemory(0, count * Row), [count, Row]),
            NamedTensor.Float(
                "state",
                _state.AsMemory(0, count * SileroVadModel.StateSize),
                [2, count, Half]
            ),
            NamedTensor.Int64("sr", s_sampleRate, []),
        ];

    private OutputBuffer[] Outputs(int count) =>
        [
            new OutputBuffer("output", _probabilities.AsMemory(0, count), [count, 1]),
            new OutputBuffer(
                "stateN",
                _nextState.AsMemory(0, count * SileroVadModel.StateSize),
                [2, count, Half]
            ),
        ];
}
