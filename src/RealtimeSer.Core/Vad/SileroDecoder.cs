using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RealtimeSer.Core.Vad;

/// <summary>
/// The recurrent end of Silero VAD v5: one LSTM step (PyTorch's LSTMCell, gates in the order input, forget,
/// cell, output) and the head, relu then a linear unit and a sigmoid. The encoder graph already added the input
/// projection and both biases (<see cref="SileroGraph"/>), so a step is the hidden state's product with W_hh, the
/// gate nonlinearities and a dot product: a few microseconds, no model run. Immutable: any thread may step any
/// stream's state.
/// </summary>
internal sealed class SileroDecoder
{
    public const int Hidden = 128;
    private const int Gates = 4 * Hidden;

    // W_hh transposed ([Hidden, Gates]): a step adds h[j] times row j, reading the matrix once, front to back.
    private readonly float[] _weightHhT;
    private readonly float[] _head;
    private readonly float _headBias;

    public SileroDecoder(float[] weightHh, float[] head, float headBias)
    {
        _weightHhT = new float[Hidden * Gates];
        for (var g = 0; g < Gates; g++)
        {
            for (var j = 0; j < Hidden; j++)
            {
                _weightHhT[j * Gates + g] = weightHh[g * Hidden + j];
            }
        }
        _head = head;
        _headBias = headBias;
    }

    /// <summary>
    /// One step of one stream: <paramref name="projected"/> is the frame's row of the encoder's output (512
    /// values); <paramref name="recurrent"/> holds h then c (128 each), as Silero's state [2, 1, 128] does, and is
    /// updated in place. Returns the frame's speech probability.
    /// </summary>
    public float Step(ReadOnlySpan<float> projected, Span<float> recurrent)
    {
        Span<float> gates = stackalloc float[Gates];
        projected[..Gates].CopyTo(gates);
        AddHiddenProduct(gates, recurrent[..Hidden], 1);
        return Activate(gates, recurrent);
    }

    /// <summary>
    /// The state-dependent half of one step for <paramref name="count"/> streams at once:
    /// <paramref name="gates"/> holds each stream's projected row ([count, 512]) and receives its gates before the
    /// nonlinearities; <paramref name="hidden"/> holds each stream's h ([count, 128]). Finish each stream with
    /// <see cref="Activate"/>. Each stream's sums run over h in the same order whatever the count, so a stream's
    /// result does not depend on which others share the call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddHiddenProduct(Span<float> gates, ReadOnlySpan<float> hidden, int count)
    {
        // Gates sixteen at a time (their 8 KB of W_hh stay in L1 while every stream passes), four streams at a
        // time with their sums in registers: W_hh (256 KB) is read once per call, not once per stream.
        var width = Vector<float>.Count;
        var rowVectors = Gates / width;
        if (gates.Length < count * Gates || hidden.Length < count * Hidden)
        {
            throw new ArgumentException(
                $"{count} streams need {count * Gates} gates and {count * Hidden} hidden values."
            );
        }
        ref var weights = ref Unsafe.As<float, Vector<float>>(
            ref MemoryMarshal.GetArrayDataReference(_weightHhT)
        );
        ref var sums = ref Unsafe.As<float, Vector<float>>(ref MemoryMarshal.GetReference(gates));
        ref var h = ref MemoryMarshal.GetReference(hidden);
        for (var v = 0; v < rowVectors; v += 2)
        {
            for (var b = 0; b + 4 <= count; b += 4)
            {
                ref var s0 = ref Unsafe.Add(ref sums, b * rowVectors + v);
                ref var s1 = ref Unsafe.Add(ref s0, rowVectors);
                ref var s2 = ref Unsafe.Add(ref s1, rowVectors);
                ref var s3 = ref Unsafe.Add(ref s2, rowVectors);
                var a00 = s0;
                var a01 = Unsafe.Add(ref s0, 1);
                var a10 = s1;
                var a11 = Unsafe.Add(ref s1, 1);
                var a20 = s2;
                var a21 = Unsafe.Add(ref s2, 1);
                var a30 = s3;
                var a31 = Unsafe.Add(ref s3, 1);
                ref var h0 = ref Unsafe.Add(ref h, b * Hidden);
                for (var j = 0; j < Hidden; j++)
                {
                    ref var row = ref Unsafe.Add(ref weights, j * rowVectors + v);
                    var w0 = row;
                    var w1 = Unsafe.Add(ref row, 1);
                    var x0 = new Vector<float>(Unsafe.Add(ref h0, j));
                    var x1 = new Vector<float>(Unsafe.Add(ref h0, Hidden + j));
                    var x2 = new Vector<float>(Unsafe.Add(ref h0, 2 * Hidden + j));
                    var x3 = new Vector<float>(Unsafe.Add(ref h0, 3 * Hidden + j));
                    a00 = Vector.FusedMultiplyAdd(w0, x0, a00);
                    a01 = Vector.FusedMultiplyAdd(w1, x0, a01);
                    a10 = Vector.FusedMultiplyAdd(w0, x1, a10);
                    a11 = Vector.FusedMultiplyAdd(w1, x1, a11);
                    a20 = Vector.FusedMultiplyAdd(w0, x2, a20);
                    a21 = Vector.FusedMultiplyAdd(w1, x2, a21);
                    a30 = Vector.FusedMultiplyAdd(w0, x3, a30);
                    a31 = Vector.FusedMultiplyAdd(w1, x3, a31);
                }
                s0 = a00;
                Unsafe.Add(ref s0, 1) = a01;
                s1 = a10;
                Unsafe.Add(ref s1, 1) = a11;
                s2 = a20;
                Unsafe.Add(ref s2, 1) = a21;
                s3 = a30;
                Unsafe.Add(ref s3, 1) = a31;
            }
        }
        // The last streams (fewer than four) one at a time, eight vectors of gates per pass: eight independent
        // sums keep the FMA units busy where two would wait on each other.
        for (var b = count / 4 * 4; b < count; b++)
        {
            ref var h0 = ref Unsafe.Add(ref h, b * Hidden);
            for (var v = 0; v < rowVectors; v += 8)
            {
                ref var s = ref Unsafe.Add(ref sums, b * rowVectors + v);
                var a0 = s;
                var a1 = Unsafe.Add(ref s, 1);
                var a2 = Unsafe.Add(ref s, 2);
                var a3 = Unsafe.Add(ref s, 3);
                var a4 = Unsafe.Add(ref s, 4);
                var a5 = Unsafe.Add(ref s, 5);
                var a6 = Unsafe.Add(ref s, 6);
                var a7 = Unsafe.Add(ref s, 7);
                for (var j = 0; j < Hidden; j++)
                {
                    ref var row = ref Unsafe.Add(ref weights, j * rowVectors + v);
                    var x = new Vector<float>(Unsafe.Add(ref h0, j));
                    a0 = Vector.FusedMultiplyAdd(row, x, a0);
                    a1 = Vector.FusedMultiplyAdd(Unsafe.Add(ref row, 1), x, a1);
                    a2 = Vector.FusedMultiplyAdd(Unsafe.Add(ref row, 2), x, a2);
                    a3 = Vector.FusedMultiplyAdd(Unsafe.Add(ref row, 3), x, a3);
                    a4 = Vector.FusedMultiplyAdd(Unsafe.Add(ref row, 4), x, a4);
                    a5 = Vector.FusedMultiplyAdd(Unsafe.Add(ref row, 5), x, a5);
                    a6 = Vector.FusedMultiplyAdd(Unsafe.Add(ref row, 6), x, a6);
                    a7 = Vector.FusedMultiplyAdd(Unsafe.Add(ref row, 7), x, a7);
                }
                s = a0;
                Unsafe.Add(ref s, 1) = a1;
                Unsafe.Add(ref s, 2) = a2;
                Unsafe.Add(ref s, 3) = a3;
                Unsafe.Add(ref s, 4) = a4;
                Unsafe.Add(ref s, 5) = a5;
                Unsafe.Add(ref s, 6) = a6;
                Unsafe.Add(ref s, 7) = a7;
            }
        }
    }

    /// <summary>
    /// The rest of a step, after <see cref="AddHiddenProduct"/>: the gate nonlinearities, the new c and h (into
    /// <paramref name="recurrent"/>, h then c) and the head. Returns the frame's speech probability.
    /// </summary>
    public float Activate(Span<float> gates, Span<float> recurrent)
    {
        var h = recurrent[..Hidden];
        var c = recurrent.Slice(Hidden, Hidden);
        var input = gates[..Hidden];
        var forget = gates.Slice(Hidden, Hidden);
        var cell = gates.Slice(2 * Hidden, Hidden);
        var output = gates.Slice(3 * Hidden, Hidden);
        TensorPrimitives.Sigmoid(gates[..(2 * Hidden)], gates[..(2 * Hidden)]);
        TensorPrimitives.Tanh(cell, cell);
        TensorPrimitives.Sigmoid(output, output);
        TensorPrimitives.Multiply(forget, c, c);
        TensorPrimitives.MultiplyAdd(input, cell, c, c);
        TensorPrimitives.Tanh(c, h);
        TensorPrimitives.Multiply(output, h, h);
        // relu(h)·w: the head's input is h through a relu.
        TensorPrimitives.Max(h, 0f, cell);
        var logit = TensorPrimitives.Dot(_head, cell) + _headBias;
        return 1f / (1f + MathF.Exp(-logit));
    }
}
