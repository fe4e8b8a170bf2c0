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

        var writer = Task.Run(
            async () =>
            {
                await foreach (var e in stream.Events.ReadAllAsync(cancellationToken))
                {
                    if (e is EmotionEvent emotion && (emotion.IsFinal || !settings.FinalsOnly))
                    {
                        await output.WriteAsync(emotion);
                    }
                }
            },
            cancellationToken
        );

        // Half a second per block: large enough to be cheap, small enough to keep memory flat.
        var block = new float[Math.Max(1, format.SampleRate / 2) * format.Channels];
        try
        {
            int frames;
            while ((frames = await reader.ReadAsync(block, cancellationToken)) > 0)
            {
                await stream.WriteAsync(
                    block.AsMemory(0, frames * format.Channels),
                    cancellationToken: cancellationToken
                );
                onAudio(frames / (double)format.SampleRate);
            }
            await stream.CompleteAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            stream.Fail(e);
            await Task.WhenAny(writer);
            throw;
        }
        await writer;
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
