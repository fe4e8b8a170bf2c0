using RealtimeSer.Audio;

namespace RealtimeSer.Core.Ingest;

public static class AudioLoader
{
    /// <summary>Reads a whole file as 16 kHz mono (channels averaged). For clips, not for long recordings.</summary>
    public static async Task<float[]> ReadMono16kAsync(
        string path,
        CancellationToken cancellationToken = default
    )
    {
        using var reader = AudioFile.Open(path);
        var format = reader.Format;
        var normalizer = new StreamNormalizer(format.SampleRate, format.Channels, ChannelMode.Mix);
        var output = new List<float>(
            reader.TotalFrames is { } total
                ? (int)Math.Min(int.MaxValue, total * 16000 / format.SampleRate + 16)
                : 16000
        );
        var block = new float[Math.Max(1, format.SampleRate / 10) * format.Channels];
        int frames;
        while ((frames = await reader.ReadAsync(block, cancellationToken)) > 0)
        {
            normalizer.Process(block.AsSpan(0, frames * format.Channels));
            output.AddRange(normalizer.Output(0));
        }
        normalizer.Flush();
        output.AddRange(normalizer.Output(0));
        return [.. output];
    }
}
