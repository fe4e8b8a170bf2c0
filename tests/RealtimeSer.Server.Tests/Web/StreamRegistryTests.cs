using RealtimeSer.Core.Pipeline;
using RealtimeSer.Tests.Fakes;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>The dashboard's arithmetic: negative shares so far and over the recent window, alerts, order.</summary>
public sealed class StreamRegistryTests
{
    private static EmotionEvent Final(
        int channel,
        int segment,
        double start,
        double end,
        string label,
        string[] labels
    ) => new("s", channel, segment, start, end, label, labels, new float[labels.Length], true, default);

    [SkippableFact]
    public async Task Shares_and_alerts_follow_the_recent_window_and_the_most_negative_call_comes_first()
    {
        using var vad = TestPaths.LoadVad();
        await using var engine = new EmotionEngine(new FakeClassifier(), vad, new EngineOptions());
        var labels = engine.Classifier.Manifest.Labels.ToArray();
        var registry = new StreamRegistry(
            new DashboardOptions
            {
                NegativeLabels = [labels[1].ToUpperInvariant(), labels[2]],
                AlertLabels = [labels[2]],
                AlertShare = 0.5,
                AlertWindowSeconds = 30,
                AlertMinSpeechSeconds = 2,
            }
        );
        var format = new StreamFormat(16000, 2) { ChannelNames = ["agent", "customer"] };
        await using var calm = engine.OpenStream("calm", format);
        await using var heated = engine.OpenStream("heated", format);
        var changed = registry.Changed;
        using var calmTracked = registry.Register(calm, engine, StreamRegistry.GrpcSource);
        Assert.True(changed.IsCompleted);
        using var heatedTracked = registry.Register(heated, engine, StreamRegistry.BrowserSource);
        // 40 s of silence: stream time now = 40 s, so the recent window is 10–40 s.
        var silence = new float[2 * 16000];
        for (var i = 0; i < 40; i++)
        {
            await calm.WriteAsync(silence);
            await heated.WriteAsync(silence);
        }

        calmTracked.Observe(Final(0, 0, 20, 30, labels[0], labels));
        heatedTracked.Observe(Final(0, 0, 0, 10, labels[2], labels));
        heatedTracked.Observe(Final(0, 1, 12, 20, labels[2], labels));
        heatedTracked.Observe(Final(0, 2, 20, 24, labels[0], labels));
        heatedTracked.Observe(Final(1, 0, 30, 36, labels[1], labels));
        heatedTracked.Observe(new SpeechEvent("s", 1, 1, true, 37));
        heatedTracked.Observe(
            new EmotionEvent("s", 1, 1, 37, 39, labels[2], labels, new float[labels.Length], false, default)
        );

        var snapshot = registry.Snapshot();
        Assert.Equal(["heated", "calm"], snapshot.Streams.Select(s => s.Id));
        var hot = snapshot.Streams[0];
        Assert.True(hot.Alert);
        Assert.Equal("browser", hot.Source);
        Assert.Equal(40, hot.DurationS, 1);
        var agent = hot.Channels[0];
        Assert.Equal("agent", agent.Name);
        Assert.Equal(18.0 / 22, agent.NegativeShare, 3);
        Assert.Equal(12, agent.RecentSpeechS, 3);
        Assert.Equal(8.0 / 12, agent.RecentAlertShare, 3);
        Assert.True(agent.Alert);
        var customer = hot.Channels[1];
        Assert.True(customer.InSpeech);
        Assert.Equal(labels[2], customer.Label);
        Assert.Equal(8, customer.RecentSpeechS, 3);
        Assert.Equal(1, customer.RecentNegativeShare, 3);
        Assert.Equal(0.25, customer.RecentAlertShare, 3);
        Assert.False(customer.Alert);
        Assert.Equal(new LastFinal(1, "customer", labels[1], 30, 36), hot.LastFinal);

        var quiet = snapshot.Streams[1];
        Assert.False(quiet.Alert);
        Assert.Equal(0, quiet.RecentNegativeShare);
        Assert.Null(quiet.Channels[1].Label);

        changed = registry.Changed;
        heatedTracked.Dispose();
        Assert.True(changed.IsCompleted);
        Assert.Equal(["calm"], registry.Snapshot().Streams.Select(s => s.Id));
    }
}
