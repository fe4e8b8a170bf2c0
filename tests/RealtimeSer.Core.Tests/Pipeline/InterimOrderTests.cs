using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Tests.Support;
using RealtimeSer.Core.Vad;
using RealtimeSer.Tests.Fakes;
using Xunit.Abstractions;

namespace RealtimeSer.Core.Tests.Pipeline;

/// <summary>
/// Interim results are a channel's running view: their ends never step back and no window is sent twice.
/// A short segment whose first full window was already cut (the VAD dates a segment's end back to the last
/// speech) used to get a centred window as well, ending before the one already sent.
/// </summary>
public sealed class InterimOrderTests(ITestOutputHelper output) : IDisposable
{
    private readonly SileroVadModel _vad = SileroVadModel.Load(TestPaths.RequireVadModel());

    public void Dispose() => _vad.Dispose();

    [SkippableTheory]
    [InlineData(1.0, 0.5)]
    [InlineData(0.5, 0.25)]
    [InlineData(2.0, 0.5)]
    public async Task Interim_ends_never_step_back_and_no_window_repeats(double window, double hop)
    {
        var (stereo, channels) = TestAudio.ReadInterleaved16k(
            TestPaths.RequireShared("fixtures/calls/call01_stereo16k.wav")
        );
        Assert.Equal(2, channels);
        await using var engine = new EmotionEngine(
            [new FakeClassifier()],
            _vad,
            new EngineOptions
            {
                Overload = OverloadPolicy.Wait,
                Streams = new StreamOptions
                {
                    WindowSeconds = window,
                    HopSeconds = hop,
                    InterimResults = true,
                },
            }
        );
        await using var stream = engine.OpenStream("call", new StreamFormat(16000, 2));
        var events = (await EngineFeed.FeedAsync(stream, stereo, 16000)).OfType<EmotionEvent>().ToList();

        var problems = new List<string>();
        foreach (var channel in events.Where(e => !e.IsFinal).GroupBy(e => e.Channel))
        {
            var seen = new HashSet<(double, double)>();
            var lastEnd = double.NegativeInfinity;
            foreach (var e in channel)
            {
                if (!seen.Add((e.StartSeconds, e.EndSeconds)))
                {
                    problems.Add(
                        $"ch{e.Channel} seg{e.Segment}: {e.StartSeconds:F3}-{e.EndSeconds:F3} sent twice"
                    );
                }
                if (e.EndSeconds < lastEnd)
                {
                    problems.Add(
                        $"ch{e.Channel} seg{e.Segment}: {e.StartSeconds:F3}-{e.EndSeconds:F3} after one ending at {lastEnd:F3}"
                    );
                }
                lastEnd = Math.Max(lastEnd, e.EndSeconds);
            }
        }
        var finals = events.Count(e => e.IsFinal);
        output.WriteLine($"{events.Count - finals} interims, {finals} finals; {string.Join("; ", problems)}");
        Assert.True(finals > 20, $"only {finals} segments");
        Assert.Empty(problems);
    }
}
