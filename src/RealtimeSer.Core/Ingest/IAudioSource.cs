using RealtimeSer.Audio;

namespace RealtimeSer.Core.Ingest;

/// <summary>A block of interleaved samples read from a source, and when its last sample was captured.</summary>
/// <param name="Frames">Frames (samples per channel) written into the buffer; 0 at the end of the source.</param>
/// <param name="CapturedAt">Stopwatch timestamp of the block's last sample (capture time for live sources).</param>
public readonly record struct AudioBlock(int Frames, long CapturedAt);

/// <summary>
/// Where audio comes from: a microphone, a gRPC stream or a file. Sources differ only in how frames arrive
/// and whether they may be dropped (<see cref="IsLive"/>: live sources never wait for the engine).
/// </summary>
public interface IAudioSource : IAsyncDisposable
{
    int SampleRate { get; }

    int Channels { get; }

    bool IsLive { get; }

    /// <summary>Reads the next block of interleaved float samples into <paramref name="buffer"/>.</summary>
    ValueTask<AudioBlock> ReadAsync(Memory<float> buffer, CancellationToken cancellationToken = default);
}

/// <summary>A recorded file as a source: read as fast as the consumer takes it.</summary>
public sealed class FileAudioSource(IAudioReader reader) : IAudioSource
{
    public static FileAudioSource Open(string path) => new(AudioFile.Open(path));

    public int SampleRate => reader.Format.SampleRate;

    public int Channels => reader.Format.Channels;

    public bool IsLive => false;

    public async ValueTask<AudioBlock> ReadAsync(
        Memory<float> buffer,
        CancellationToken cancellationToken = default
    )
    {
        var frames = await reader.ReadAsync(buffer, cancellationToken);
        return new AudioBlock(frames, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    public ValueTask DisposeAsync()
    {
        reader.Dispose();
        return ValueTask.CompletedTask;
    }
}
