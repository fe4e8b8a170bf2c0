using System.Diagnostics;
using RealtimeSer.Audio;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Cli.Replay;

internal sealed record ReplaySettings(
    string OutDir,
    ReplayFormat Format,
    ChannelMode Mode,
    IReadOnlyList<string>? ChannelNames,
    bool FinalsOnly,
    ReplayRecipe? Recipe = null
);

/// <summary>Replays one recording through the shared engine, as fast as the engine accepts audio.</summary>
internal static class ReplayRunner
{
    public static async Task<ReplayStats> RunAsync(
        EmotionEngine engine,
        ReplayInput input,
        ReplaySettings settings,
        Action<double> onAudio,
        CancellationToken cancellationToken
    )
    {
        var timer = Stopwatch.StartNew();
        using var reader = AudioFile.Open(input.Path);
        var format = reader.Format;
        var names = settings.Mode == ChannelMode.Mix ? null : settings.ChannelNames;
        await using var stream = engine.OpenStream(
            input.Path,
            new StreamFormat(format.SampleRate, format.Channels, settings.Mode) { ChannelNames = names }
        );
        await using var output = new ReplayOutput(settings.OutDir, input, settings.Format, settings.Recipe);

        await RecordingRun.RunAsync(
            stream,
            async (block, token) =>
            {
                var frames = await reader.ReadAsync(block, token);
                onAudio(frames / (double)format.SampleRate);
                return frames * format.Channels;
            },
            async e =>
            {
                if (e is EmotionEvent emotion && (emotion.IsFinal || !settings.FinalsOnly))
                {
                    await output.WriteAsync(emotion);
                }
            },
            cancellationToken
        );
        var stats = new ReplayStats(
            stream.SecondsReceived,
            timer.Elapsed.TotalSeconds,
            stream.WindowsClassified,
            stream.WindowsDropped
        );
        await output.CommitAsync(settings.OutDir, input, stats);
        return stats;
    }
}
