using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RealtimeSer.Audio.Capture;

/// <summary>One block read from a capture stream.</summary>
/// <param name="Frames">Frames (samples per channel) written into the caller's buffer.</param>
/// <param name="CapturedAt">Stopwatch timestamp when the block's last sample was captured.</param>
/// <param name="Overflowed">Input was lost before this block because it was not read in time.</param>
public readonly record struct CapturedBlock(int Frames, long CapturedAt, bool Overflowed);

/// <summary>
/// A blocking float32 PortAudio input stream. Reads come from one thread (a dedicated capture thread);
/// <see cref="Read"/> returns within about one block of audio on a real device.
/// </summary>
public sealed class CaptureStream : IDisposable
{
    private readonly PortAudioStreamHandle _handle;
    private double _paAnchor;
    private long _stopwatchAnchor;
    private long _overflows;
    private long _framesRead;
    private int _started;

    internal CaptureStream(
        PortAudioStreamHandle handle,
        AudioDevice device,
        int sampleRate,
        int channels,
        int frames
    )
    {
        _handle = handle;
        Device = device;
        SampleRate = sampleRate;
        Channels = channels;
        FramesPerBlock = frames;
        var info = PortAudioNative.Pa_GetStreamInfo(handle.DangerousGetHandle());
        if (info != IntPtr.Zero)
        {
            InputLatency = Marshal.PtrToStructure<PortAudioNative.PaStreamInfo>(info).InputLatency;
        }
    }

    public AudioDevice Device { get; }

    public int SampleRate { get; }

    public int Channels { get; }

    public int FramesPerBlock { get; }

    /// <summary>Input latency PortAudio reports for the opened stream, in seconds.</summary>
    public double InputLatency { get; }

    /// <summary>Reads that reported lost input (the reader fell behind the device).</summary>
    public long Overflows => Interlocked.Read(ref _overflows);

    public void Start()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }
        PortAudioNative.Check(
            PortAudioNative.Pa_StartStream(_handle.DangerousGetHandle()),
            "cannot start capture"
        );
        // PortAudio's clock and Stopwatch are both monotonic but need not share an epoch: tie them once here.
        _stopwatchAnchor = Stopwatch.GetTimestamp();
        _paAnchor = PortAudioNative.Pa_GetStreamTime(_handle.DangerousGetHandle());
    }

    /// <summary>
    /// Largest read: a real device's backlog after a stall, or a virtual device's whole buffer, fits at once.
    /// </summary>
    public int MaxFramesPerRead => Math.Max(FramesPerBlock * 16, (int)(InputLatency * SampleRate * 4));

    /// <summary>
    /// Blocks until at least <see cref="FramesPerBlock"/> frames are captured and copies every frame waiting
    /// (up to the buffer's size) into <paramref name="buffer"/>, interleaved. Draining what is waiting keeps
    /// a reader that fell behind from falling further behind, and ALSA plugins that fill their whole
    /// mapped area on each read (the <c>file</c> plugin) from losing the part not taken.
    /// Never returns audio faster than real time: a virtual device that produces samples instantly is
    /// held back to the pace of a real one, and its samples are stamped with the time they would have been
    /// captured.
    /// </summary>
    public CapturedBlock Read(Span<float> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (buffer.Length < FramesPerBlock * Channels)
        {
            throw new ArgumentException(
                $"the buffer must hold at least {FramesPerBlock * Channels} samples",
                nameof(buffer)
            );
        }
        var stream = _handle.DangerousGetHandle();
        var available = (long)PortAudioNative.Pa_GetStreamReadAvailable(stream).Value;
        var frames = (int)Math.Clamp(available, FramesPerBlock, buffer.Length / Channels);
        var error = PortAudioNative.Pa_ReadStream(
            stream,
            ref MemoryMarshal.GetReference(buffer),
            new CULong((nuint)frames)
        );
        var overflowed = error == PortAudioNative.PaInputOverflowed;
        if (overflowed)
        {
            Interlocked.Increment(ref _overflows);
        }
        else
        {
            PortAudioNative.Check(error, "capture failed");
        }
        // Frames still waiting in the device buffer were captured after our last one: step back over them.
        available = Math.Max(0, (long)PortAudioNative.Pa_GetStreamReadAvailable(stream).Value);
        var captured = ToStopwatch(PortAudioNative.Pa_GetStreamTime(stream) - available / (double)SampleRate);
        _framesRead += frames;
        var due = _stopwatchAnchor + (long)(_framesRead / (double)SampleRate * Stopwatch.Frequency);
        var early = due - Stopwatch.GetTimestamp();
        if (early > 0)
        {
            // Ahead of real time: only a virtual device does this; wait until the last frame is "captured".
            cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(early / (double)Stopwatch.Frequency));
            captured = due;
        }
        return new CapturedBlock(frames, captured, overflowed);
    }

    /// <summary>A PortAudio stream time as a <see cref="Stopwatch"/> timestamp.</summary>
    public long ToStopwatch(double streamTime) =>
        _stopwatchAnchor + (long)Math.Round((streamTime - _paAnchor) * Stopwatch.Frequency);

    /// <summary>Stops capture after the current buffer; the stream can be disposed afterwards.</summary>
    public void Stop()
    {
        if (!_handle.IsClosed && Interlocked.Exchange(ref _started, 0) != 0)
        {
            PortAudioNative.Pa_StopStream(_handle.DangerousGetHandle());
        }
    }

    public void Dispose() => _handle.Dispose();
}
