using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Core.Tests.Pipeline;

public sealed class SenioritySchedulerTests
{
    [Fact]
    public void Whichever_step_a_thread_was_called_for_it_runs_the_oldest_streams_first()
    {
        // The threads are held back: every queued step leaves one "run the most senior" call here.
        var calls = new List<Action>();
        var scheduler = new SeniorityScheduler(calls.Add);
        var oldest = scheduler.NewLane();
        var middle = scheduler.NewLane();
        var youngest = scheduler.NewLane();
        var ran = new List<string>();
        Task Step(SeniorityScheduler.Lane lane, string name) =>
            SeniorityScheduler.Run(
                lane,
                () =>
                {
                    ran.Add(name);
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
        Assert.Equal(6, scheduler.Queued);
        Assert.Equal(6, calls.Count);

        calls[0](); // called for "youngest 1"
        Assert.Equal(["oldest 1"], ran);
        foreach (var call in calls.Skip(1))
        {
            call();
        }
        Assert.Equal(["oldest 1", "oldest 2", "middle 1", "middle 2", "youngest 1", "youngest 2"], ran);
        Assert.All(steps, s => Assert.True(s.IsCompletedSuccessfully));
        Assert.Equal(0, scheduler.Queued);
    }

    [Fact]
    public async Task Continuations_of_a_streams_awaits_come_back_to_its_lane()
    {
        var scheduler = new SeniorityScheduler();
        var lane = scheduler.NewLane();
        using var signal = new SemaphoreSlim(0);
        var schedulers = new List<TaskScheduler>();
        var work = SeniorityScheduler.Run(
            lane,
            async () =>
            {
                schedulers.Add(TaskScheduler.Current);
                await Task.Yield();
                schedulers.Add(TaskScheduler.Current);
                await Task.Delay(5);
                schedulers.Add(TaskScheduler.Current);
                await signal.WaitAsync(); // released from a thread-pool thread below
                schedulers.Add(TaskScheduler.Current);
            }
        );
        await Task.Run(async () =>
        {
            await Task.Delay(20);
            signal.Release();
        });
        await work.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(4, schedulers.Count);
        Assert.All(schedulers, s => Assert.Same(lane, s));
        Assert.Equal(0, scheduler.Queued);
    }

    [Fact]
    public async Task A_failure_reaches_the_awaiter_and_the_lane_goes_on()
    {
        var scheduler = new SeniorityScheduler();
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
}
