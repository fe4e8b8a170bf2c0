using System.Globalization;
using System.Text;
using RealtimeSer.Core.Pipeline;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace RealtimeSer.Cli.Listen;

/// <summary>What the live view shows at one moment.</summary>
internal sealed record ListenSnapshot(
    string Device,
    int SampleRate,
    TimeSpan Elapsed,
    bool InSpeech,
    float SpeechProbability,
    EmotionEvent? Current,
    IReadOnlyList<string> Labels,
    IReadOnlyList<EmotionEvent> Finals,
    int Segments,
    double LatencyP50,
    double LatencyP95,
    long WindowsDropped,
    long BlocksDropped,
    long Overflows,
    string? Status = null
)
{
    /// <summary>Seconds of live audio skipped because the engine fell behind.</summary>
    public double AudioShedSeconds { get; init; }
}

/// <summary>
/// The terminal view of <c>ser listen</c>: one panel sized to the terminal (80×24 is the smallest it is
/// designed for), every line built to a known width so nothing wraps and garbles the layout.
/// </summary>
internal static class ListenView
{
    public const int MinWidth = 60;

    public static IRenderable Render(ListenSnapshot s, int width, int height)
    {
        width = Math.Max(MinWidth, width);
        var inner = width - 4; // panel border and padding
        var lines = new List<string>
        {
            Fit(
                $"[bold]{Markup.Escape(Clip(s.Device, inner - 30))}[/] · {s.SampleRate} Hz · {Clock(s.Elapsed)}",
                inner
            ),
            VadLine(s) + "   " + LatencyLine(s),
            "",
        };
        if (s.AudioShedSeconds > 0)
        {
            // Its own line: the status line is full at 80 columns, and lost audio must not be clipped away.
            lines.Insert(
                2,
                Fit(
                    $"[red]audio shed {s.AudioShedSeconds:0.0} s: the engine fell behind and skipped it[/]",
                    inner
                )
            );
        }
        var current = s.Current;
        var title = current is null
            ? "[grey]emotion: waiting for speech…[/]"
            : $"emotion: [bold yellow]{Markup.Escape(current.Label)}[/] [grey](segment {current.Segment}, {current.StartSeconds:0.0}–{current.EndSeconds:0.0} s)[/]";
        lines.Add(title);
        var labelWidth = Math.Min(10, s.Labels.Select(l => l.Length).DefaultIfEmpty(7).Max());
        var barWidth = Math.Max(10, inner - labelWidth - 8);
        for (var i = 0; i < s.Labels.Count; i++)
        {
            var p = current is null ? 0 : current.Scores[i];
            var isTop = current is not null && current.Label == s.Labels[i];
            var filled = (int)Math.Round(Math.Clamp(p, 0, 1) * barWidth);
            var bar = new string('█', filled) + new string('░', barWidth - filled);
            var color = isTop ? "yellow" : "blue";
            lines.Add(
                $"{Markup.Escape(Clip(s.Labels[i], labelWidth).PadRight(labelWidth))} [{color}]{bar}[/] {p, 5:0.00}"
            );
        }
        // Other models on the same windows (arousal beside emotion): one line each, label and scores.
        foreach (var m in current?.Models.Skip(1) ?? [])
        {
            var scores = string.Join(
                " · ",
                m.Labels.Select(
                    (l, i) => string.Create(CultureInfo.InvariantCulture, $"{l} {m.Scores[i]:0.00}")
                )
            );
            lines.Add(
                Fit(
                    $"{Markup.Escape(m.Model)}: [bold yellow]{Markup.Escape(m.Label)}[/] [grey]{Markup.Escape(scores)}[/]",
                    inner
                )
            );
        }
        lines.Add("");
        lines.Add($"[bold]last segments[/] [grey]({s.Segments} so far)[/]");
        // Rows left for segments: the terminal height minus everything else (border 2, footer 1, cursor 1).
        var room = Math.Max(1, height - lines.Count - 4);
        var finals = s.Finals.Skip(Math.Max(0, s.Finals.Count - room)).ToList();
        if (finals.Count == 0)
        {
            lines.Add("[grey]  none yet[/]");
        }
        foreach (var f in finals)
        {
            var share = f.ScoreOf(f.Label);
            lines.Add(
                Markup.Escape(
                    Clip(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"{f.Segment, 4}  {Clock(TimeSpan.FromSeconds(f.StartSeconds))}–{Clock(TimeSpan.FromSeconds(f.EndSeconds))}  {f.Label, -10} {share, 4:0.00}  {f.Windows, 2} win"
                        ) + string.Concat(f.Models.Skip(1).Select(m => $"  {m.Model} {m.Label}")),
                        inner
                    )
                )
            );
        }
        var footer = s.Status ?? "Ctrl+C to stop";
        var panel = new Panel(new Markup(string.Join('\n', lines)))
        {
            Header = new PanelHeader($" ser listen · [grey]{Markup.Escape(footer)}[/] "),
            Border = BoxBorder.Rounded,
            Expand = true,
            Width = width,
        };
        return panel;
    }

    private static string VadLine(ListenSnapshot s) =>
        s.InSpeech
            ? $"[green]● speaking[/] p={s.SpeechProbability:0.00}"
            : $"[grey]○ silence [/] p={s.SpeechProbability:0.00}";

    private static string LatencyLine(ListenSnapshot s)
    {
        var latency = double.IsNaN(s.LatencyP50)
            ? "latency –"
            : $"latency p50 {s.LatencyP50:0} ms p95 {s.LatencyP95:0} ms";
        var drops = s.WindowsDropped + s.BlocksDropped + s.Overflows;
        var dropText =
            drops == 0 ? "drops 0" : $"[red]drops {s.WindowsDropped}w/{s.BlocksDropped}b/{s.Overflows}o[/]";
        return $"{latency} · {dropText}";
    }

    internal static string Clock(TimeSpan t) =>
        t.TotalHours >= 1
            ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
            : t.ToString(@"mm\:ss\.f", CultureInfo.InvariantCulture);

    private static string Clip(string text, int width) =>
        text.Length <= width ? text
        : width <= 1 ? text[..width]
        : text[..(width - 1)] + "…";

    /// <summary>Markup whose visible text is cut to <paramref name="width"/> columns.</summary>
    private static string Fit(string markup, int width)
    {
        var visible = Markup.Remove(markup);
        if (visible.Length <= width)
        {
            return markup;
        }
        return Markup.Escape(Clip(visible, width));
    }

    /// <summary>Plain text of the view (no colours), for tests and non-ANSI terminals.</summary>
    public static string ToPlainText(ListenSnapshot s, int width, int height)
    {
        var text = new StringBuilder();
        using var writer = new StringWriter(text);
        var console = AnsiConsole.Create(
            new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Out = new AnsiConsoleOutput(writer),
                Interactive = InteractionSupport.No,
            }
        );
        console.Profile.Width = width;
        console.Profile.Height = height;
        console.Write(Render(s, width, height));
        return text.ToString();
    }
}
