namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// A whole recording through one engine stream, as fast as the engine takes it: half-second blocks in (in wait
/// mode each waits for the model to have room), every event out to the consumer in order, then the end. The one
/// loop behind <c>ser replay</c>, the unary <c>Recognize</c> call and a recording dropped on the page.
/// </summary>
public static class RecordingRun
{
    /// <summary>Large enough to be cheap, small enough to keep memory flat.</summary>
    public const double BlockSeconds = 0.5;

    /// <summary>
    /// Feeds <paramref name="stream"/> from <paramref name="read"/> (which fills a block with interleaved samples
    /// and returns how many, 0 at the end) and hands every event to <paramref name="onEvent"/>. An error while
    /// reading fails the stream and is rethrown once the consumer has stopped; the consumer's own error (the
    /// stream failed) surfaces from here too.
    /// </summary>
    public static async Task RunAsync(
        EngineStream stream,
        Func<Memory<float>, CancellationToken, ValueTask<int>> read,
        Func<EngineEvent, ValueTask> onEvent,
        CancellationToken cancellationToken
    )
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(onEvent);
        var consumer = Task.Run(
            async () =>
            {
                await foreach (var e in stream.Events.ReadAllAsync(cancellationToken))
                {
                    await onEvent(e);
                }
            },
            cancellationToken
        );
        var format = stream.Format;
        var block = new float[Math.Max(1, (int)(format.SampleRate * BlockSeconds)) * format.Channels];
        try
        {
            int samples;
            while ((samples = await read(block, cancellationToken)) > 0)
            {
                await stream.WriteAsync(block.AsMemory(0, samples), cancellationToken: cancellationToken);
            }
            await stream.CompleteAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            stream.Fail(e);
            await Task.WhenAny(consumer);
            throw;
        }
        await consumer;
    }

    /// <summary>A reader over audio already in memory (interleaved, whole frames).</summary>
    public static Func<Memory<float>, CancellationToken, ValueTask<int>> FromMemory(
        ReadOnlyMemory<float> audio
    )
    {
        var offset = 0;
        return (block, _) =>
        {
            var n = Math.Min(block.Length, audio.Length - offset);
            audio.Slice(offset, n).CopyTo(block);
            offset += n;
            return ValueTask.FromResult(n);
        };
    }
}
