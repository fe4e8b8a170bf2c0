using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Core.Tests.Support;

internal static class EngineFeed
{
    /// <summary>Writes the audio in blocks of <paramref name="block"/> samples, completes the stream and returns every event it published.</summary>
    public static async Task<List<EngineEvent>> FeedAsync(EngineStream stream, float[] interleaved, int block)
    {
        var collected = new List<EngineEvent>();
        var reader = Task.Run(async () =>
        {
            await foreach (var e in stream.Events.ReadAllAsync())
            {
                collected.Add(e);
            }
        });
        for (var offset = 0; offset < interleaved.Length; offset += block)
        {
            await stream.WriteAsync(
                interleaved.AsMemory(offset, Math.Min(block, interleaved.Length - offset))
            );
        }
        await stream.CompleteAsync();
        await reader;
        return collected;
    }
}
