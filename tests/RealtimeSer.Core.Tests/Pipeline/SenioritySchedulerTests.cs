using RealtimeSer.Core.Pipeline;
using RealtimeSer.Tests.Shared;

namespace RealtimeSer.Core.Tests.Pipeline;

public sealed class SenioritySchedulerTests
{
    [Fact]
    public async Task The_oldest_streams_work_runs_first_and_one_streams_work_in_order()
    {
        using var scheduler = new SeniorityScheduler(threads: 1, maxHelpers: 0);
        var oldest = scheduler.NewLane();
        var middle = scheduler.NewLane();
        var youngest = scheduler.NewLane();
        using var gate = new ManualResetEventSlim();
        var ran = new List<string>();
        // Hold the only thread, then queue work of all three lanes, youngest first.
        var holding = HoldTheThread(youngest, gate);
        Task Step(SeniorityScheduler.Lane lane, string name) => RecordStep(lane, ran, name);
        var steps = new[]
        {
            Step(youngest, "youngest 1"),
            Step(middle, "middle 1"),
            Step(youngest, "youngest 2"),
            Step(oldest, "oldest 1"),
            Step(middle, "middle 2"),
            Step(oldest, "oldest 2"),
        };
        Assert.True(SpinWait.SpinUntil(() => scheduler.Queued == 6, TimeSpan.FromSeconds(5)));
        gate.Set();
        await Task.WhenAll([holding, .. steps]);

        Assert.Equal(["oldest 1", "oldest 2", "middle 1", "middle 2", "youngest 1", "youngest 2"], ran);
    }

    [Fact]
    public async Task Continuations_of_a_streams_awaits_stay_on_its_threads()
    {
        using var scheduler = new SeniorityScheduler(threads: 2, maxHelpers: 0, name: "test-lane");
        var lane = scheduler.NewLane();
        using var signal = new SemaphoreSlim(0);
        var threads = new List<string?>();
        var work = SeniorityScheduler.Run(
            lane,
            async () =>
            {
                threads.Add(Thread.CurrentThread.Name);
                await Task.Yield();
                threads.Add(Thread.CurrentThread.Name);
                await Task.Delay(5); // a timer's continuation, whatever its length
                lock (threads)
                {
                    threads.Add(Thread.CurrentThread.Name);
                }
                await signal.WaitAsync(); // released from a thread-pool thread below
                threads.Add(Thread.CurrentThread.Name);
                Assert.Same(lane, TaskScheduler.Current);
            }
        );
        // Released once the work has reached its wait (the third name recorded), from a pool thread.
        await Poll.UntilAsync(
            () =>
            {
                lock (threads)
                {
                    return threads.Count >= 3;
                }
            },
            TimeSpan.FromSeconds(10),
            () => "the work never reached its wait"
        );
        await Task.Run(() => signal.Release());
        await work;

        Assert.Equal(4, threads.Count);
        Assert.All(threads, name => Assert.StartsWith("test-lane-", name));
    }

    [Fact]
    public async Task A_failure_reaches_the_awaiter_and_the_threads_go_on()
    {
        using var scheduler = new SeniorityScheduler(threads: 1);
        var lane = scheduler.NewLane();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SeniorityScheduler.Run(
                lane,
                async () =>
                {
                    await Task.Yield();
                    throw new InvalidOperationException("the stream's VAD failed");
                }
            )
        );
        Assert.Equal("the stream's VAD failed", error.Message);

        var after = 0;
        await SeniorityScheduler.Run(
            lane,
            () =>
            {
                after++;
                return Task.CompletedTask;
            }
        );
        Assert.Equal(1, after);
    }

    [Fact]
    public async Task Work_still_waiting_when_the_scheduler_is_disposed_is_not_lost()
    {
        var scheduler = new SeniorityScheduler(threads: 1);
        var lane = scheduler.NewLane();
        using var signal = new SemaphoreSlim(0);
        var finished = false;
        var work = SeniorityScheduler.Run(
            lane,
            async () =>
            {
                await signal.WaitAsync();
                finished = true;
            }
        );
        scheduler.Dispose();
        signal.Release(); // its continuation comes after disposal: the thread pool runs it
        await work.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(finished);
    }

    [Fact]
    public async Task When_the_threads_fall_behind_the_pool_helps_with_a_bounded_number_of_items_at_a_time()
    {
        var dispatched = 0;
        using var scheduler = new SeniorityScheduler(
            threads: 1,
            maxHelpers: 1,
            name: "test-help",
            run =>
            {
                Interlocked.Increment(ref dispatched);
                ThreadPool.UnsafeQueueUserWorkItem(static r => r(), run, preferLocal: false);
            }
        );
        var oldest = scheduler.NewLane();
        var youngest = scheduler.NewLane();
        using var gate = new ManualResetEventSlim();
        // The only thread is held: without help nothing else would run until the gate opens.
        var holding = HoldTheThread(oldest, gate);
        var ran = new List<string>();
        Task Step(SeniorityScheduler.Lane lane, string name) => RecordStep(lane, ran, name);
        var steps = Enumerable
            .Range(0, 6)
            .Select(i => Step(i % 2 == 0 ? youngest : oldest, $"{i}"))
            .ToArray();
        // Help comes while more waits than the threads can take next: all but (at most) one step run.
        var helpedWhileHeld = SpinWait.SpinUntil(
            () =>
            {
                lock (ran)
                {
                    return ran.Count >= 5;
                }
            },
            TimeSpan.FromSeconds(10)
        );
        var helped = scheduler.Helped;
        gate.Set();
        await holding;
        await Task.WhenAll(steps);

        Assert.True(helpedWhileHeld, $"only {ran.Count} steps ran while the thread was held");
        Assert.True(helped >= 5, $"helped {helped}");
        Assert.Equal(6, ran.Count);
        // One helper at a time: each pool item runs one step and hands on to the next.
        Assert.True(dispatched <= 6, $"{dispatched} pool items");
    }

    /// <summary>
    /// Runs work on <paramref name="lane"/> that holds its thread until <paramref name="gate"/> opens, and returns
    /// once it holds it (steps queued before the thread took the holder would run first, most senior first).
    /// </summary>
    private static Task HoldTheThread(SeniorityScheduler.Lane lane, ManualResetEventSlim gate)
    {
        using var held = new ManualResetEventSlim();
        var holding = SeniorityScheduler.Run(
            lane,
            () =>
            {
                held.Set();
                gate.Wait(TimeSpan.FromSeconds(20));
                return Task.CompletedTask;
            }
        );
        Assert.True(held.Wait(TimeSpan.FromSeconds(10)), "the holder never got the thread");
        return holding;
    }

    private static Task RecordStep(SeniorityScheduler.Lane lane, List<string> ran, string name) =>
        SeniorityScheduler.Run(
            lane,
            () =>
            {
                lock (ran)
                {
                    ran.Add(name);
                }
                return Task.CompletedTask;
            }
        );
}
