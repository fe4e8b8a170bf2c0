using System.Diagnostics;
using RealtimeSer.Cli.Listen;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Cli.Tests.Listen;

public class ListenViewTests
{
    private static readonly string[] Labels = ["angry", "disgust", "fear", "happy", "neutral", "sad"];

    private static EmotionEvent Event(int segment, bool final, string label = "angry") =>
        new(
            "mic",
            0,
            segment,
            segment * 3.0,
            segment * 3.0 + 2.5,
            label,
            Labels,
            [0.62f, 0.1f, 0.08f, 0.1f, 0.05f, 0.05f],
            final,
            new EventLatency(3, 20, 1, 140)
        );

    private static ListenSnapshot Snapshot(int finals) =>
        new(
            "a rather long microphone name from a USB headset with many words (ALSA hw:2,0)",
            48000,
            TimeSpan.FromSeconds(754.3),
            true,
            0.93f,
            Event(finals, final: false),
            Labels,
            Enumerable
                .Range(0, finals)
                .Select(i => Event(i, final: true, Labels[i % Labels.Length]))
                .ToList(),
            finals,
            131.4,
            412.9,
            2,
            1,
            0
        );

    [Fact]
    public void A_second_model_shows_beside_emotion_and_shedding_in_the_status_line()
    {
        var withArousal = Event(5, final: false) with
        {
            Models =
            [
                new ModelScores("crema6", "angry", Labels, [0.62f, 0.1f, 0.08f, 0.1f, 0.05f, 0.05f], 1.5),
                new ModelScores("arousal3", "high", ["low", "neutral", "high"], [0.1f, 0.2f, 0.7f], 1.2),
            ],
        };
        var finalWithArousal = Event(4, final: true) with { Models = withArousal.Models };
        var snapshot = Snapshot(3) with
        {
            Current = withArousal,
            Finals = [finalWithArousal],
            AudioShedSeconds = 2.5,
        };

        var text = ListenView.ToPlainText(snapshot, 80, 24);

        Assert.Contains("arousal3: high low 0.10 · neutral 0.20 · high 0.70", text, StringComparison.Ordinal);
        Assert.Contains("arousal3 high", text, StringComparison.Ordinal); // the final's line
        Assert.Contains("audio shed 2.5 s", text, StringComparison.Ordinal);
        Assert.All(text.TrimEnd('\n').Split('\n'), l => Assert.True(l.Length <= 80, l));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(40)]
    public void View_fits_an_80_by_24_terminal(int finals)
    {
        var text = ListenView.ToPlainText(Snapshot(finals), 80, 24);
        var lines = text.TrimEnd('\n').Split('\n');

        Assert.True(lines.Length <= 23, $"{lines.Length} lines:\n{text}");
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: {l}"));
        Assert.Contains("speaking", text);
        Assert.Contains("p50 131 ms", text);
        Assert.Contains("p95 413 ms", text);
        Assert.Contains("drops", text);
        foreach (var label in Labels)
        {
            Assert.Contains(label, text);
        }
        Assert.Contains("last segments", text);
        Assert.StartsWith("╭", lines[0]);
        Assert.StartsWith("╰", lines[^1]);
    }

    [Fact]
    public void Latest_segments_are_the_ones_shown()
    {
        var text = ListenView.ToPlainText(Snapshot(40), 80, 24);
        Assert.Contains("  39  ", text);
        Assert.DoesNotContain("   0  00:00.0", text);
    }

    [Fact]
    public void Percentiles_interpolate()
    {
        Assert.Equal(2.5, SessionStats.Percentile([1, 2, 3, 4], 50));
        Assert.Equal(4, SessionStats.Percentile([4, 1, 3, 2], 100));
        Assert.True(double.IsNaN(SessionStats.Percentile([], 50)));
    }

    /// <summary>The real program under tmux at 80×24: the captured pane shows the panels, unwrapped.</summary>
    [SkippableFact]
    public async Task Live_view_renders_in_an_80x24_tmux_pane()
    {
        Skip.If(VirtualMicrophone.FindOnPath("tmux") is null, "tmux is not installed (apt-get install tmux)");
        VirtualMicrophone.RequirePortAudio();
        VirtualMicrophone.RequireSox();
        VirtualMicrophone.RequireModel();
        var clip = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        using var mic = VirtualMicrophone.FromClips([clip, clip], gap: 0.7, tail: 20);
        var session = $"ser-listen-{Guid.NewGuid():N}";
        var env = new Dictionary<string, string?>();
        mic.ApplyEnvironment(env);
        // Everything the program needs travels in the command, since a tmux server may already run elsewhere.
        var exports = string.Join(' ', env.Select(kv => $"{kv.Key}='{kv.Value}'"));
        var models = Environment.GetEnvironmentVariable("REALTIMESER_MODELS");
        if (!string.IsNullOrEmpty(models))
        {
            exports += $" REALTIMESER_MODELS='{models}'";
        }
        var command =
            $"env {exports} TERM=xterm-256color dotnet '{VirtualMicrophone.SerDll}' listen --seconds 12 2>/dev/null; sleep 30";
        Tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", session, command);
        try
        {
            string pane = "";
            var timer = Stopwatch.StartNew();
            // Wait until a segment has been finalised on screen, then judge that frame.
            while (timer.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(500);
                pane = Tmux("capture-pane", "-p", "-t", session);
                if (
                    pane.Contains(" win", StringComparison.Ordinal)
                    && pane.Contains("p50", StringComparison.Ordinal)
                )
                {
                    break;
                }
            }
            var lines = pane.TrimEnd('\n').Split('\n');
            Assert.True(lines.Length <= 24, pane);
            Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: {l}"));
            Assert.Contains("ser listen", pane);
            Assert.Contains("emotion", pane);
            Assert.Contains("last segments", pane);
            Assert.Contains("latency p50", pane);
            Assert.Contains(" win", pane);
            var top = lines.Select((l, i) => (l, i)).First(x => x.l.TrimStart().StartsWith('╭')).i;
            var bottom = lines.Select((l, i) => (l, i)).Last(x => x.l.TrimStart().StartsWith('╰')).i;
            Assert.True(bottom > top, pane);
            // Every line between the borders is a framed line: nothing wrapped out of the panel.
            Assert.NotEmpty(lines[(top + 1)..bottom]);
            Assert.All(
                lines[(top + 1)..bottom],
                l => Assert.True(l.StartsWith('│') && l.TrimEnd().EndsWith('│'), pane)
            );
        }
        finally
        {
            Tmux("kill-session", "-t", session);
        }
    }

    private static string Tmux(params string[] args)
    {
        var start = new ProcessStartInfo("tmux")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
