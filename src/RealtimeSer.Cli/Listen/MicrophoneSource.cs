using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;
using RealtimeSer.Audio.Capture;
using RealtimeSer.Core.Ingest;

namespace RealtimeSer.Cli.Listen;

/// <summary>
/// A PortAudio capture stream as an <see cref="IAudioSource"/>. A dedicated thread does the blocking reads
/// and hands blocks over through a small bounded channel that drops the oldest block when the consumer
/// lags: the capture thread never waits on the engine, so the device never overruns because of it.
/// </summary>
internal sealed class MicrophoneSource : IAudioSource
{
    private readonly CaptureStream _capture;
    private readonly Channel<Block> _blocks;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private Block? _partial;
    private int _partialOffset;
    private long _dropped;
    private int _disposed;

    public MicrophoneSource(CaptureStream capture, int queueBlocks = 32)
    {
        _capture = capture;
        _blocks = Channel.CreateBounded<Block>(
            new BoundedChannelOptions(queueBlocks)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = true,
            },
            OnDropped
        );
        _thread = new Thread(CaptureLoop) { IsBackground = true, Name = "ser-capture" };
    }

    public int SampleRate => _capture.SampleRate;

    public int Channels => _capture.Channels;

    public bool IsLive => true;

    /// <summary>Blocks dropped because the engine side did not keep up.</summary>
    public long DroppedBlocks => Interlocked.Read(ref _dropped);

    /// <summary>Reads where the device itself lost input.</summary>
    public long Overflows => _capture.Overflows;

    public void Start()
    {
        _capture.Start();
        _thread.Start();
    }

    public async ValueTask<AudioBlock> ReadAsync(
        Memory<float> buffer,
        CancellationToken cancellationToken = default
    )
    {
        if (_partial is null)
        {
            try
            {
                _partial = await _blocks.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException e) when (e.InnerException is null)
            {
                return new AudioBlock(0, Stopwatch.GetTimestamp());
            }
            _partialOffset = 0;
        }
        var block = _partial;
        var channels = Channels;
        var frames = Math.Min(buffer.Length / channels, block.Frames - _partialOffset);
        block.Samples.AsSpan(_partialOffset * channels, frames * channels).CopyTo(buffer.Span);
        _partialOffset += frames;
        var framesAfter = block.Frames - _partialOffset;
        // The block is stamped at its last frame; a part of it ends that many frames earlier.
        var capturedAt = block.CapturedAt - (long)(framesAfter / (double)SampleRate * Stopwatch.Frequency);
        if (framesAfter == 0)
        {
            ArrayPool<float>.Shared.Return(block.Samples);
            _partial = null;
        }
        return new AudioBlock(frames, capturedAt);
    }

    private void CaptureLoop()
    {
        var token = _stop.Token;
        var scratch = new float[_capture.MaxFramesPerRead * _capture.Channels];
        try
        {
            while (!token.IsCancellationRequested)
            {
                var read = _capture.Read(scratch, token);
                if (token.IsCancellationRequested)
                {
                    break;
                }
                var samples = ArrayPool<float>.Shared.Rent(read.Frames * _capture.Channels);
                scratch.AsSpan(0, read.Frames * _capture.Channels).CopyTo(samples);
                _blocks.Writer.TryWrite(new Block(samples, read.Frames, read.CapturedAt));
            }
            _blocks.Writer.TryComplete();
        }
        catch (Exception e) when (e is PortAudioException or ObjectDisposedException)
        {
            // The reader sees why capture ended instead of a silent stop.
            _blocks.Writer.TryComplete(e);
        }
    }

    private void OnDropped(Block block)
    {
        Interlocked.Increment(ref _dropped);
        ArrayPool<float>.Shared.Return(block.Samples);
    }

    /// <summary>Stops reading; the blocks already captured can still be read, then the source ends.</summary>
    public void StopCapture() => _stop.Cancel();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync();
        // A blocking read returns within one device buffer; only then may the stream be stopped and closed.
        var joined = !_thread.IsAlive || await Task.Run(() => _thread.Join(TimeSpan.FromSeconds(3)));
        if (joined)
        {
            _capture.Stop();
            _capture.Dispose();
        }
        while (_blocks.Reader.TryRead(out var block))
        {
            ArrayPool<float>.Shared.Return(block.Samples);
        }
        _stop.Dispose();
    }

    private sealed record Block(float[] Samples, int Frames, long CapturedAt);
}
