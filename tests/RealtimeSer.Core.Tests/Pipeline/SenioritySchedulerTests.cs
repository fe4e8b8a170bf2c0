using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Core.Tests.Pipeline;

public sealed class SenioritySchedulerTests
{
    [Fact]
    public async Task The_oldest_streams_work_runs_first_and_one_streams_work_in_order()
    {
        using var scheduler = new SeniorityScheduler(threads: 1);
        var oldest = scheduler.NewLane();
        var middle = scheduler.NewLane();
        var youngest = scheduler.NewLane();
        using var gate = new ManualResetEventSlim();
        var ran = new List<string>();
        // Hold the only thread, then queue work of all three lanes, youngest first.
        var holding = SeniorityScheduler.Run(
            youngest,
            () =>
            {
                gate.Wait(TimeSpan.FromSeconds(10));
                return Task.CompletedTask;
            }
        );
        Task Step(SeniorityScheduler.Lane lane, string name) =>
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
        using var scheduler = new SeniorityScheduler(threads: 2, name: "test-lane");
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
                await Task.Delay(5);
                threads.Add(Thread.CurrentThread.Name);
                await signal.WaitAsync(); // released from a thread-pool thread below
                threads.Add(Thread.CurrentThread.Name);
                Assert.Same(lane, TaskScheduler.Current);
            }
        );
        await Task.Run(async () =>
        {
            await Task.Delay(20);
            signal.Release();
        });
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
}
