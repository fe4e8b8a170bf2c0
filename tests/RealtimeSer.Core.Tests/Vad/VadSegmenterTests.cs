using RealtimeSer.Core.Vad;

namespace RealtimeSer.Core.Tests.Vad;

public class VadSegmenterTests
{
    private const int Frame = 512;

    private static List<VadEvent> Run(VadOptions options, IEnumerable<float> probabilities, bool flush = true)
    {
        var segmenter = new VadSegmenter(options, Frame);
        var events = new List<VadEvent>();
        foreach (var p in probabilities)
        {
            segmenter.Push(p, events);
        }
        if (flush)
        {
            segmenter.Flush(events);
        }
        return events;
    }

    private static IEnumerable<float> Repeat(float p, int frames) => Enumerable.Repeat(p, frames);

    [Fact]
    public void Speech_between_silences_gives_one_padded_segment()
    {
        // 20 frames silence, 20 speech (640 ms), 20 silence.
        var events = Run(
            VadOptions.Default,
            Repeat(0.1f, 20).Concat(Repeat(0.9f, 20)).Concat(Repeat(0.1f, 20))
        );

        Assert.Equal(2, events.Count);
        Assert.Equal(new VadEvent(VadEventKind.SpeechStart, 0, 20 * Frame - 480), events[0]);
        Assert.Equal(new VadEvent(VadEventKind.SpeechEnd, 0, 40 * Frame + 480), events[1]);
    }

    [Fact]
    public void Speech_shorter_than_minimum_is_dropped()
    {
        // 5 frames = 160 ms < 250 ms.
        var events = Run(VadOptions.Default, Repeat(0f, 10).Concat(Repeat(0.9f, 5)).Concat(Repeat(0f, 20)));
        Assert.Empty(events);
    }

    [Fact]
    public void Start_is_announced_only_after_minimum_speech_and_is_backdated()
    {
        var segmenter = new VadSegmenter(VadOptions.Default, Frame);
        var events = new List<VadEvent>();
        for (var i = 0; i < 7; i++)
        {
            segmenter.Push(0.9f, events);
        }
        // 7 frames = 224 ms < 250 ms: not yet; the 8th frame (256 ms) confirms it.
        Assert.Empty(events);
        segmenter.Push(0.9f, events);
        var start = Assert.Single(events);
        Assert.Equal(VadEventKind.SpeechStart, start.Kind);
        Assert.Equal(0, start.Sample);
    }

    [Fact]
    public void Dip_between_thresholds_does_not_end_speech()
    {
        // 0.4 is below the start threshold but above the end threshold: still speech (hysteresis).
        var probs = Repeat(0.9f, 15).Concat(Repeat(0.4f, 30)).Concat(Repeat(0.9f, 15)).Concat(Repeat(0f, 10));
        var ends = Run(VadOptions.Default, probs).Where(e => e.Kind == VadEventKind.SpeechEnd).ToList();
        Assert.Single(ends);
    }

    [Fact]
    public void Short_pause_keeps_one_segment_long_pause_splits()
    {
        // 2 frames of silence (64 ms) < 100 ms minimum: one segment; 5 frames (160 ms): two.
        var shortPause = Repeat(0.9f, 15)
            .Concat(Repeat(0f, 2))
            .Concat(Repeat(0.9f, 15))
            .Concat(Repeat(0f, 10));
        var longPause = Repeat(0.9f, 15)
            .Concat(Repeat(0f, 5))
            .Concat(Repeat(0.9f, 15))
            .Concat(Repeat(0f, 10));

        Assert.Single(Run(VadOptions.Default, shortPause), e => e.Kind == VadEventKind.SpeechEnd);
        var ends = Run(VadOptions.Default, longPause).Where(e => e.Kind == VadEventKind.SpeechEnd).ToList();
        Assert.Equal(2, ends.Count);
    }

    [Fact]
    public void Segments_never_overlap_and_are_ordered()
    {
        var random = new Random(7);
        var probs = Enumerable.Range(0, 5000).Select(_ => (float)random.NextDouble()).ToList();
        var events = Run(VadOptions.Default with { MinSilenceMs = 40 }, probs);

        long lastEnd = 0;
        for (var i = 0; i + 1 < events.Count; i += 2)
        {
            Assert.Equal(VadEventKind.SpeechStart, events[i].Kind);
            Assert.Equal(VadEventKind.SpeechEnd, events[i + 1].Kind);
            Assert.Equal(events[i].Segment, events[i + 1].Segment);
            Assert.True(
                events[i].Sample >= lastEnd,
                $"segment {events[i].Segment} starts before the last end"
            );
            Assert.True(events[i + 1].Sample > events[i].Sample);
            lastEnd = events[i + 1].Sample;
        }
        Assert.True(events.Count % 2 == 0);
    }

    [Fact]
    public void Long_speech_is_split_at_maximum_length()
    {
        var options = VadOptions.Default with { MaxSegmentSeconds = 2 };
        // 10 s of continuous speech: split into segments of at most 2 s.
        var events = Run(options, Repeat(0.9f, 10 * 16000 / Frame));
        var starts = events.Where(e => e.Kind == VadEventKind.SpeechStart).ToList();
        var ends = events.Where(e => e.Kind == VadEventKind.SpeechEnd).ToList();

        Assert.True(ends.Count >= 5, $"expected ≥ 5 segments, got {ends.Count}");
        for (var i = 0; i < ends.Count; i++)
        {
            Assert.True(ends[i].Sample - starts[i].Sample <= 2 * 16000, $"segment {i} exceeds 2 s");
        }
    }

    [Fact]
    public void Long_speech_is_split_at_its_last_pause()
    {
        var options = VadOptions.Default with { MaxSegmentSeconds = 3 };
        // 1.5 s speech, 160 ms pause (too short to end speech at min silence 200 ms), 3 s speech.
        var probs = Repeat(0.9f, 47).Concat(Repeat(0.1f, 5)).Concat(Repeat(0.9f, 94)).Concat(Repeat(0f, 20));
        var events = Run(options with { MinSilenceMs = 200 }, probs);
        var firstEnd = events.First(e => e.Kind == VadEventKind.SpeechEnd);
        // Split where the pause began (frame 47) plus padding, not at the hard limit.
        Assert.Equal(47 * Frame + 480, firstEnd.Sample);
    }

    [Fact]
    public void Open_segment_is_closed_by_flush_at_stream_end()
    {
        var events = Run(VadOptions.Default, Repeat(0f, 5).Concat(Repeat(0.9f, 20)));
        Assert.Equal(VadEventKind.SpeechEnd, events[^1].Kind);
        Assert.Equal(25 * Frame, events[^1].Sample);
    }

    [Fact]
    public void NaN_probability_counts_as_silence()
    {
        var events = Run(VadOptions.Default, Repeat(0.9f, 15).Concat(Repeat(float.NaN, 10)));
        Assert.Equal(15 * Frame + 480, events.Single(e => e.Kind == VadEventKind.SpeechEnd).Sample);
    }

    [Theory]
    [InlineData(0f, 0.35f)]
    [InlineData(0.5f, 0.6f)]
    [InlineData(1.2f, 0.35f)]
    [InlineData(float.NaN, 0.35f)]
    [InlineData(0.5f, float.NaN)]
    public void Invalid_thresholds_are_rejected(float start, float end)
    {
        var options = VadOptions.Default with { StartThreshold = start, EndThreshold = end };
        Assert.Throws<ArgumentException>(() => new VadSegmenter(options));
    }

    [Fact]
    public void A_maximum_segment_length_that_is_not_a_number_is_rejected()
    {
        var options = VadOptions.Default with { MaxSegmentSeconds = double.NaN };
        Assert.Throws<ArgumentException>(() => new VadSegmenter(options));
    }
}
