using RealtimeSer.Onnx;

namespace RealtimeSer.Core.Vad.Batching;

/// <summary>
/// Scores up to <see cref="Capacity"/> frames of many streams in shared model runs and keeps each stream's own
/// state. With the split model (<see cref="SileroVadModel.IsSplit"/>) every frame, several of one stream's
/// included, is a row of one encoder run, [frames, 576] in and [frames, 512] out, and each stream's LSTM steps
/// then go through its frames in order. With the whole graph, a run takes one frame of each stream: inputs
/// [B, 576] and recurrent state [2, B, 128] in, probabilities [B, 1] and the next state out, as many runs as the
/// longest stream has frames. Silero's rows do not interact, so a stream's probability does not depend on which
/// other streams share its batch. Buffers and tensor descriptions are made once per batch size, so a run
/// allocates nothing the size of its data. Not thread-safe: one per worker.
/// </summary>
public sealed class SileroVadBatch
{
    private const int Row = SileroVadModel.RowSamples;
    private const int Half = SileroVadModel.StateSize / 2; // one LSTM layer's state: [1, 128] of [2, 1, 128]
    private const int GateWidth = 4 * SileroDecoder.Hidden;

    private static readonly long[] s_sampleRate = [SileroVadModel.SampleRate];

    private readonly float[] _input;
    private readonly float[] _state;
    private readonly float[] _probabilities;
    private readonly float[] _nextState;
    private readonly float[] _gates;
    private readonly float[] _stepGates;
    private readonly float[] _stepHidden;
    private readonly NamedTensor[]?[] _inputs;
    private readonly OutputBuffer[]?[] _outputs;
    private readonly NamedTensor[]?[] _encoderInputs;
    private readonly OutputBuffer[]?[] _encoderOutputs;
    private readonly SileroVadState[] _step;
    private readonly int[] _stepIndex;
    private readonly int[] _ones;

    public SileroVadBatch(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _input = new float[capacity * Row];
        _state = new float[capacity * SileroVadModel.StateSize];
        _probabilities = new float[capacity];
        _nextState = new float[capacity * SileroVadModel.StateSize];
        _gates = new float[capacity * GateWidth];
        _stepGates = new float[capacity * GateWidth];
        _stepHidden = new float[capacity * Half];
        _inputs = new NamedTensor[]?[capacity + 1];
        _outputs = new OutputBuffer[]?[capacity + 1];
        _encoderInputs = new NamedTensor[]?[capacity + 1];
        _encoderOutputs = new OutputBuffer[]?[capacity + 1];
        _step = new SileroVadState[capacity];
        _stepIndex = new int[capacity];
        _ones = Enumerable.Repeat(1, capacity).ToArray();
    }

    /// <summary>Most frames in one call.</summary>
    public int Capacity { get; }

    /// <summary>
    /// Scores frame i of <paramref name="frames"/> (512 samples each, one after another) with
    /// <paramref name="states"/>[i]; each state moves on to its next frame.
    /// </summary>
    public void Run(
        SileroVadModel model,
        ReadOnlySpan<SileroVadState> states,
        ReadOnlySpan<float> frames,
        Span<float> probabilities
    ) => Run(model, states, _ones.AsSpan(0, Math.Min(states.Length, Capacity)), frames, probabilities);

    /// <summary>
    /// Scores <paramref name="counts"/>[i] consecutive frames of <paramref name="states"/>[i], for every i:
    /// <paramref name="frames"/> holds state 0's frames in order (512 samples each), then state 1's, and so on,
    /// and <paramref name="probabilities"/> receives one probability per frame in the same order. Each state
    /// moves on past its last frame.
    /// </summary>
    public void Run(
        SileroVadModel model,
        ReadOnlySpan<SileroVadState> states,
        ReadOnlySpan<int> counts,
        ReadOnlySpan<float> frames,
        Span<float> probabilities
    )
    {
        ArgumentNullException.ThrowIfNull(model);
        if (counts.Length != states.Length)
        {
            throw new ArgumentException(
                $"{states.Length} states need as many frame counts; got {counts.Length}."
            );
        }
        var total = 0;
        foreach (var count in counts)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            total += count;
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(total, Capacity);
        if (frames.Length != total * SileroVadModel.FrameSamples || probabilities.Length < total)
        {
            throw new ArgumentException(
                $"{total} frames need {total * SileroVadModel.FrameSamples} samples and {total} probabilities; "
                    + $"got {frames.Length} and {probabilities.Length}."
            );
        }
        if (total == 0)
        {
            return;
        }
        if (model.Decoder is { } decoder)
        {
            RunSplit(model, decoder, states, counts, frames, probabilities, total);
        }
        else
        {
            RunWhole(model, states, counts, frames, probabilities);
        }
    }

    private void RunSplit(
        SileroVadModel model,
        SileroDecoder decoder,
        ReadOnlySpan<SileroVadState> states,
        ReadOnlySpan<int> counts,
        ReadOnlySpan<float> frames,
        Span<float> probabilities,
        int total
    )
    {
        // Each frame's row is its stream's context (the previous frame's tail) and the frame.
        var row = 0;
        for (var s = 0; s < states.Length; s++)
        {
            for (var k = 0; k < counts[s]; k++, row++)
            {
                states[s].Load(frames.Slice(row * SileroVadModel.FrameSamples, SileroVadModel.FrameSamples));
                states[s].Input.CopyTo(_input, row * Row);
                states[s].ShiftContext();
            }
        }
        model.Run(
            _encoderInputs[total] ??= [
                NamedTensor.Float("input", _input.AsMemory(0, total * Row), [total, Row]),
            ],
            _encoderOutputs[total] ??= [
                new OutputBuffer(
                    SileroGraph.GatesOutput,
                    _gates.AsMemory(0, total * GateWidth),
                    [total, GateWidth]
                ),
            ]
        );
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // The LSTM steps go round by round, the k-th frame of every stream that has one: each round reads W_hh
        // once for all of them (SileroDecoder.AddHiddenProduct).
        for (var k = 0; TakeRound(states, counts, k) is var taking and > 0; k++)
        {
            for (var b = 0; b < taking; b++)
            {
                _gates.AsSpan(_stepIndex[b] * GateWidth, GateWidth).CopyTo(_stepGates.AsSpan(b * GateWidth));
                _step[b].Recurrent.AsSpan(0, Half).CopyTo(_stepHidden.AsSpan(b * Half));
            }
            decoder.AddHiddenProduct(_stepGates, _stepHidden, taking);
            for (var b = 0; b < taking; b++)
            {
                probabilities[_stepIndex[b]] = decoder.Activate(
                    _stepGates.AsSpan(b * GateWidth, GateWidth),
                    _step[b].Recurrent
                );
            }
        }
        Array.Clear(_step);
        model.AddDecoderTime(started);
    }

    /// <summary>Whole-graph runs: the j-th run takes frame j of every stream that has one.</summary>
    private void RunWhole(
        SileroVadModel model,
        ReadOnlySpan<SileroVadState> states,
        ReadOnlySpan<int> counts,
        ReadOnlySpan<float> frames,
        Span<float> probabilities
    )
    {
        for (var j = 0; TakeRound(states, counts, j) is var taking and > 0; j++)
        {
            for (var b = 0; b < taking; b++)
            {
                _step[b]
                    .Load(
                        frames.Slice(_stepIndex[b] * SileroVadModel.FrameSamples, SileroVadModel.FrameSamples)
                    );
            }
            RunLoaded(model, _step.AsSpan(0, taking));
            for (var b = 0; b < taking; b++)
            {
                probabilities[_stepIndex[b]] = _probabilities[b];
            }
        }
        // Closed streams' states must not stay reachable from here.
        Array.Clear(_step);
    }

    /// <summary>
    /// Round <paramref name="k"/>: the states that have a k-th frame go into <see cref="_step"/>, in order, with
    /// that frame's index among all the call's frames in <see cref="_stepIndex"/>; returns how many.
    /// </summary>
    private int TakeRound(ReadOnlySpan<SileroVadState> states, ReadOnlySpan<int> counts, int k)
    {
        var taking = 0;
        var first = 0;
        for (var s = 0; s < states.Length; s++)
        {
            if (k < counts[s])
            {
                _step[taking] = states[s];
                _stepIndex[taking++] = first + k;
            }
            first += counts[s];
        }
        return taking;
    }

    /// <summary>
    /// Runs every state's loaded frame (see <see cref="SileroVadState.Load"/>) in one whole-graph run and moves
    /// each state on; the probabilities land in the first entries of <see cref="_probabilities"/>.
    /// </summary>
    private void RunLoaded(SileroVadModel model, ReadOnlySpan<SileroVadState> states)
    {
        var count = states.Length;
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
            _probabilities[b] = state.Complete(_probabilities[b]);
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
