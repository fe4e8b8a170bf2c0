using RealtimeSer.Core.Pipeline;
using RealtimeSer.Tests.Shared;

namespace RealtimeSer.Core.Tests.Pipeline;

/// <summary>The live backlog's rules: shed the oldest audio of a real-time source that we cannot keep up with;
/// never shed a source that is ahead of real time (it waits instead).</summary>
public sealed class IngestBacklogTests
{
    private static readonly float[] Chunk = new float[1600]; // 0.1 s at 16 kHz mono

    private static async Task<List<IngestChunk>> TakeAllAsync(IngestBacklog backlog)
    {
        backlog.Complete();
        var all = new List<IngestChunk>();
        while (await backlog.TakeAsync(CancellationToken.None) is { } chunk)
        {
            all.Add(chunk);
            chunk.Return();
        }
        return all;
    }

    [Fact]
    public async Task A_real_time_source_that_the_reader_cannot_keep_up_with_loses_its_oldest_audio()
    {
        var clock = new ManualClock();
        var backlog = new IngestBacklog(maxBacklogSeconds: 0.3, maxQueuedSeconds: 5, clock);
        double shed = 0;
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(0.1); // paced at real time; nobody reads
            shed += await backlog.AddAsync(Chunk, 0.1, clock.GetTimestamp(), CancellationToken.None);
        }

        Assert.Equal(0.7, shed, 6);
        Assert.Equal(0.7, backlog.ShedSeconds, 6);
        Assert.Equal(0.3, backlog.WaitingSeconds, 6);
        var all = await TakeAllAsync(backlog);
        // Every chunk is still delivered in order (its time must pass); the oldest seven are marked shed.
        Assert.Equal(10, all.Count);
        Assert.Equal(Enumerable.Repeat(true, 7).Concat(Enumerable.Repeat(false, 3)), all.Select(c => c.Shed));
        Assert.Equal(all.Select(c => c.ArrivedAt).Order(), all.Select(c => c.ArrivedAt));
    }

    [Fact]
    public async Task A_shed_chunk_gives_its_audio_back_when_it_is_shed_and_keeps_its_length()
    {
        var clock = new ManualClock();
        var backlog = new IngestBacklog(maxBacklogSeconds: 0.3, maxQueuedSeconds: 5, clock);
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(0.1); // a starved reader: everything past the bound is shed while it waits
            await backlog.AddAsync(Chunk, 0.1, clock.GetTimestamp(), CancellationToken.None);
        }
        backlog.Complete();
        var taken = new List<IngestChunk>();
        while (await backlog.TakeAsync(CancellationToken.None) is { } chunk)
        {
            taken.Add(chunk); // not returned yet: what a shed chunk still holds is what a starved stream holds
        }

        Assert.Equal(7, taken.Count(c => c.Shed));
        Assert.All(taken, c => Assert.Equal(Chunk.Length, c.Length)); // its time still passes
        Assert.All(taken.Where(c => c.Shed), c => Assert.Throws<InvalidOperationException>(() => c.Samples));
        Assert.All(taken.Where(c => !c.Shed), c => Assert.Equal(Chunk.Length, c.Samples.Length));
        taken.ForEach(c => c.Return());
    }

    [Fact]
    public async Task A_chunk_that_reaches_the_reader_late_is_shed_and_every_shedding_is_reported()
    {
        var clock = new ManualClock();
        var reported = 0.0;
        var backlog = new IngestBacklog(0.3, 5, clock, seconds => reported += seconds);
        for (var i = 0; i < 5; i++)
        {
            clock.Advance(0.1);
            await backlog.AddAsync(Chunk, 0.1, clock.GetTimestamp(), CancellationToken.None);
        }
        Assert.Equal(0.2, reported, 6); // two chunks over the 0.3 s bound, shed on arrival
        clock.Advance(1.0); // the reader was starved for a second: what is left is stale
        var all = await TakeAllAsync(backlog);
        Assert.NotEmpty(all);
        Assert.All(all, c => Assert.True(c.Shed));
        Assert.Equal(0.5, backlog.ShedSeconds, 6);
        Assert.Equal(backlog.ShedSeconds, reported, 6);
    }

    [Fact]
    public async Task A_real_time_source_that_stalled_and_sends_its_late_audio_in_a_burst_is_behind_not_ahead()
    {
        var clock = new ManualClock();
        var backlog = new IngestBacklog(maxBacklogSeconds: 0.3, maxQueuedSeconds: 5, clock);
        clock.Advance(1.0); // the sender's first chunk is a second late (its thread was starved)
        double shed = 0;
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(0.02); // then it catches up: a second of audio in 0.2 s; nobody reads
            shed += await backlog.AddAsync(Chunk, 0.1, clock.GetTimestamp(), CancellationToken.None);
        }

        Assert.False(
            backlog.Ahead,
            "a second of audio 1.2 s after the stream opened is not ahead of real time"
        );
        Assert.Equal(0.7, shed, 6);
        Assert.Equal(0.3, backlog.WaitingSeconds, 6);
    }

    [Fact]
    public async Task A_reader_that_keeps_up_sheds_nothing()
    {
        var clock = new ManualClock();
        var backlog = new IngestBacklog(0.3, 5, clock);
        for (var i = 0; i < 50; i++)
        {
            clock.Advance(0.1);
            Assert.Equal(0, await backlog.AddAsync(Chunk, 0.1, clock.GetTimestamp(), CancellationToken.None));
            var chunk = await backlog.TakeAsync(CancellationToken.None);
            Assert.False(chunk!.Shed);
            chunk.Return();
        }
        Assert.Equal(0, backlog.ShedSeconds);
    }

    [Fact]
    public async Task A_source_ahead_of_real_time_is_never_shed_and_waits_for_room()
    {
        var clock = new ManualClock();
        var backlog = new IngestBacklog(maxBacklogSeconds: 0.3, maxQueuedSeconds: 1.0, clock);
        for (var i = 0; i < 10; i++)
        {
            // A file streamed as fast as possible: no time passes between chunks.
            Assert.Equal(0, await backlog.AddAsync(Chunk, 0.1, clock.GetTimestamp(), CancellationToken.None));
        }
        var blocked = backlog.AddAsync(Chunk, 0.1, clock.GetTimestamp(), CancellationToken.None).AsTask();
        // A negative check: the wait gives a wrong implementation time to let the add through; it cannot fail
        // a right one (the add must stay blocked however long the test waits).
        await Task.Delay(100);
        Assert.False(blocked.IsCompleted, "a source ahead of real time must wait once the queue is full");

        var first = await backlog.TakeAsync(CancellationToken.None);
        first!.Return();
        Assert.Equal(0, await blocked.WaitAsync(TimeSpan.FromSeconds(5)));
        var rest = await TakeAllAsync(backlog);
        Assert.Equal(10, rest.Count);
        Assert.All(rest, c => Assert.False(c.Shed));
        Assert.Equal(0, backlog.ShedSeconds);
    }
}
