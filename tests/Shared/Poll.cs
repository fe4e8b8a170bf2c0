using System.Diagnostics;

namespace RealtimeSer.Tests.Shared;

/// <summary>
/// Waits for a condition with a deadline, instead of a fixed sleep: a sleep is too short on a loaded machine
/// (the test fails, or passes without testing anything) and wasted on an idle one. The deadline only bounds a
/// failure; a passing test goes on as soon as the condition holds.
/// </summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test, saying why, at the deadline.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan within, Func<string> describe) =>
        UntilAsync(() => Task.FromResult(condition()), within, describe);

    /// <inheritdoc cref="UntilAsync(Func{bool}, TimeSpan, Func{string})"/>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within, Func<string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(
                clock.Elapsed < within,
                $"not reached within {within.TotalSeconds:0.#} s: {describe()}"
            );
            await Task.Delay(Interval); // the polling interval: no result depends on it
        }
    }
}
