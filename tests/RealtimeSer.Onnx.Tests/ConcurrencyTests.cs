using RealtimeSer.Onnx.Tests.Models;
using RealtimeSer.Tests.Shared;

namespace RealtimeSer.Onnx.Tests;

public class ConcurrencyTests
{
    [Fact]
    public async Task Parallel_runs_on_one_session_match_sequential_runs()
    {
        using var session = OnnxSession.Load(
            TestModels.LinearPath,
            new OnnxSessionOptions { Provider = ExecutionProviderKind.Cpu }
        );
        const int Jobs = 64;
        var inputs = Enumerable
            .Range(0, Jobs)
            .Select(j =>
            {
                var random = new Random(j);
                var batch = 1 + (j % 7);
                var x = Enumerable.Range(0, batch * 3).Select(_ => (float)random.NextDouble()).ToArray();
                var ids = Enumerable.Range(0, batch).Select(i => (long)(j * 100) + i).ToArray();
                return (batch, x, ids);
            })
            .ToArray();

        TensorOutput[] RunOne(int j)
        {
            var (batch, x, ids) = inputs[j];
            return session.Run([
                NamedTensor.Float("x", x, [batch, 3]),
                NamedTensor.Int64("ids", ids, [batch]),
            ]);
        }

        var sequential = Enumerable.Range(0, Jobs).Select(RunOne).ToArray();
        using var start = new Barrier(4);
        var parallel = new TensorOutput[Jobs][];
        var workers = Enumerable
            .Range(0, 4)
            .Select(w =>
                Task.Run(() =>
                {
                    start.SignalAndWait();
                    for (var round = 0; round < 5; round++)
                    {
                        for (var j = w; j < Jobs; j += 4)
                        {
                            parallel[j] = RunOne(j);
                        }
                    }
                })
            )
            .ToArray();
        await Task.WhenAll(workers);

        for (var j = 0; j < Jobs; j++)
        {
            Assert.Equal(sequential[j][0].Floats, parallel[j][0].Floats);
            Assert.Equal(sequential[j][0].Shape, parallel[j][0].Shape);
            Assert.Equal(sequential[j][1].Int64s, parallel[j][1].Int64s);
            Assert.Equal(sequential[j][2].Int64s, parallel[j][2].Int64s);
            Assert.Equal(inputs[j].ids.Select(i => i + TestModels.IdOffset), parallel[j][2].Int64s);
        }
    }

    [Fact]
    public async Task Dispose_during_runs_never_crashes()
    {
        var session = OnnxSession.Load(
            TestModels.LinearPath,
            new OnnxSessionOptions { Provider = ExecutionProviderKind.Cpu }
        );
        var x = new float[300];
        var ids = new long[100];
        var completed = 0;
        var runner = Task.Run(() =>
        {
            try
            {
                while (true)
                {
                    session.Run([NamedTensor.Float("x", x, [100, 3]), NamedTensor.Int64("ids", ids, [100])]);
                    Interlocked.Increment(ref completed);
                }
            }
            catch (ObjectDisposedException)
            {
                return Volatile.Read(ref completed);
            }
        });
        // Dispose once runs are under way (a few have completed), however long the runner took to start.
        await Poll.UntilAsync(
            () => Volatile.Read(ref completed) >= 10 || runner.IsCompleted,
            TimeSpan.FromSeconds(30),
            () => $"{Volatile.Read(ref completed)} runs"
        );
        if (runner.IsCompleted)
        {
            await runner; // its exception, if any
            Assert.Fail("the runner stopped before the session was disposed");
        }
        session.Dispose();

        var runs = await runner.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(runs >= 10);
    }
}
