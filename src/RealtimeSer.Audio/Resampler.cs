using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RealtimeSer.Audio;

/// <summary>
/// Streaming sample-rate converter for one channel: Kaiser-windowed sinc, polyphase on the reduced ratio L/M
/// (44100→16000 is 160/441). Keeps state across <see cref="Process"/> calls, allocates nothing per call, and
/// returns bit-identical output however the input is chunked.
/// </summary>
/// <remarks>
/// The filter's group delay is compensated: output sample k corresponds to input time k / OutputRate, and a
/// stream of N inputs yields ceil(N · OutputRate / InputRate) outputs once <see cref="Flush"/> has drained the
/// tail. Equal rates pass samples through untouched.
/// </remarks>
public sealed class Resampler
{
    // Input samples staged per block; bounds the history buffer so memory is fixed per instance.
    private const int BlockSize = 4096;

    private readonly PolyphaseFilter? _filter;
    private readonly float[] _buffer;
    private readonly int _up;
    private readonly int _down;
    private readonly int _taps;
    private int _count; // Valid samples in _buffer.
    private long _base; // Input index of _buffer[0].
    private long _nextIndex; // Newest input index the next output needs.
    private int _phase; // Polyphase row of the next output.
    private long _totalIn;
    private long _produced;

    public Resampler(int inputRate, int outputRate, ResamplerQuality quality = ResamplerQuality.High)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputRate, 1);
        InputRate = inputRate;
        OutputRate = outputRate;
        Quality = quality;
        if (inputRate == outputRate)
        {
            _up = _down = 1;
            _buffer = [];
            return;
        }

        _filter = PolyphaseFilter.Get(inputRate, outputRate, quality);
        _up = _filter.Up;
        _down = _filter.Down;
        _taps = _filter.TapsPerPhase;
        _buffer = new float[_taps + BlockSize];
        Reset();
    }

    public int InputRate { get; }

    public int OutputRate { get; }

    public ResamplerQuality Quality { get; }

    /// <summary>
    /// The filter's group delay, which this resampler compensates (outputs are not shifted). It is still the
    /// algorithmic latency: output for stream time t can be produced only once input up to t + DelaySeconds arrived.
    /// </summary>
    public double DelaySeconds =>
        _filter is null ? 0 : (double)_filter.HalfLength / ((long)InputRate * _filter.Phases);

    /// <summary>Taps per polyphase row (the cost of one output sample, in multiply-adds).</summary>
    public int TapsPerPhase => _taps;

    /// <summary>Upper bound on what <see cref="Flush"/> writes.</summary>
    public int MaxFlushOutput =>
        _filter is null ? 0 : (int)((_filter.HalfLength + 1L) * _up / ((long)_filter.Phases * _down)) + 2;

    /// <summary>Upper bound of output samples one <see cref="Process"/> call writes for that many inputs.</summary>
    public int MaxOutputFor(int inputCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputCount);
        return _filter is null ? inputCount : (int)((long)inputCount * _up / _down) + 1;
    }

    /// <summary>Resamples the next block of the stream; <paramref name="output"/> needs <see cref="MaxOutputFor"/> room.</summary>
    /// <returns>Samples written.</returns>
    public int Process(ReadOnlySpan<float> input, Span<float> output)
    {
        if (_filter is null)
        {
            input.CopyTo(output);
            return input.Length;
        }

        int needed = MaxOutputFor(input.Length);
        if (output.Length < needed)
        {
            throw new ArgumentException(
                $"Output holds {output.Length} samples; {input.Length} inputs may produce {needed} (use MaxOutputFor).",
                nameof(output)
            );
        }

        int written = 0;
        while (!input.IsEmpty)
        {
            int take = Math.Min(_buffer.Length - _count, input.Length);
            input[..take].CopyTo(_buffer.AsSpan(_count));
            _count += take;
            _totalIn += take;
            input = input[take..];
            written += Drain(output[written..], long.MaxValue);
            Compact();
        }

        return written;
    }

    /// <summary>
    /// Ends the stream: writes the outputs still held back by the filter (the input is treated as followed by
    /// silence) and resets for a new stream.
    /// </summary>
    public int Flush(Span<float> output)
    {
        if (_filter is null)
        {
            return 0;
        }

        long desired = ((_totalIn * _up) + _down - 1) / _down;
        long remaining = desired - _produced;
        if (output.Length < remaining)
        {
            throw new ArgumentException(
                $"Output holds {output.Length} samples; flushing writes {remaining} (use MaxFlushOutput).",
                nameof(output)
            );
        }

        int written = 0;
        while (_produced < desired)
        {
            int take = _buffer.Length - _count;
            _buffer.AsSpan(_count, take).Clear();
            _count += take;
            written += Drain(output[written..], desired - _produced);
            Compact();
        }

        Reset();
        return written;
    }

    /// <summary>Forgets the stream so far (history, phase, counters).</summary>
    public void Reset()
    {
        if (_filter is null)
        {
            return;
        }

        // Kp−1 zeros stand for the silence before the stream so the first outputs need no special case.
        Array.Clear(_buffer);
        _count = _taps - 1;
        _base = -(_taps - 1);
        // The delay is HalfLength table-rate samples: whole input samples plus a fraction in units of 1/L.
        _nextIndex = _filter.HalfLength / _filter.Phases;
        _phase = (int)((long)(_filter.HalfLength % _filter.Phases) * _up / _filter.Phases);
        _totalIn = 0;
        _produced = 0;
    }

    private int Drain(Span<float> output, long limit)
    {
        var filter = _filter!;
        ReadOnlySpan<float> table = filter.Table;
        int taps = _taps;
        int written = 0;
        long end = _base + _count;
        while (_nextIndex < end && written < limit)
        {
            int start = (int)(_nextIndex - taps + 1 - _base);
            output[written++] = Dot(
                table.Slice(filter.RowOf(_phase) * taps, taps),
                _buffer.AsSpan(start, taps)
            );
            _phase += _down;
            _nextIndex += _phase / _up;
            _phase %= _up;
        }

        _produced += written;
        return written;
    }

    private void Compact()
    {
        // Keep only the history the next output still reaches back to.
        long keepFrom = Math.Min(_nextIndex - _taps + 1 - _base, _count);
        if (keepFrom <= 0)
        {
            return;
        }

        int keep = _count - (int)keepFrom;
        _buffer.AsSpan((int)keepFrom, keep).CopyTo(_buffer);
        _count = keep;
        _base += keepFrom;
    }

    // Lengths are multiples of 32, so two Vector<float> accumulators cover them with no scalar tail.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        int width = Vector<float>.Count;
        var acc0 = Vector<float>.Zero;
        var acc1 = Vector<float>.Zero;
        nuint n = (nuint)a.Length;
        nuint step = (nuint)(2 * width);
        for (nuint i = 0; i < n; i += step)
        {
            acc0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref ra, i), Vector.LoadUnsafe(ref rb, i), acc0);
            acc1 = Vector.FusedMultiplyAdd(
                Vector.LoadUnsafe(ref ra, i + (nuint)width),
                Vector.LoadUnsafe(ref rb, i + (nuint)width),
                acc1
            );
        }

        return Vector.Sum(acc0 + acc1);
    }
}
