using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RealtimeSer.Cli.Bench;

/// <summary>
/// How benchmark results are spelled: figures, Markdown tables, the <c>shapes:</c> line, JSON text for
/// machines and an SVG chart a person can open in any browser. <see cref="BenchWriter"/> decides what goes where.
/// </summary>
internal static class BenchFormat
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // A point without samples (no event in it) has no percentile: JSON null, not a crash.
        Converters = { new FiniteOrNull() },
    };

    /// <summary>
    /// The line every benchmark prints for the ONNX sessions it ran, e.g.
    /// <c>shapes: silero_vad=3 general6=5 general6/head=1</c>, and the same counts for its JSON.
    /// </summary>
    public static SortedDictionary<string, int> Shapes(IEnumerable<RealtimeSer.Onnx.OnnxSession> sessions) =>
        new(sessions.ToDictionary(s => s.Name, s => s.Shapes.Count), StringComparer.Ordinal);

    public static string ShapesLine(IReadOnlyDictionary<string, int> shapes) =>
        "shapes: " + string.Join(' ', shapes.Select(s => $"{s.Key}={s.Value}"));

    /// <summary>A result file's text: snake_case fields, indented, one trailing newline.</summary>
    public static string ToJson(object result) => JsonSerializer.Serialize(result, Json) + "\n";

    public static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", header).AppendLine(" |");
        text.Append('|').AppendJoin("", header.Select(_ => " --- |")).AppendLine();
        foreach (var row in rows)
        {
            text.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        }
        return text.ToString();
    }

    /// <summary>A figure for tables and console lines; "n/a" where there is none (no samples).</summary>
    public static string F(double value, string format = "0.0") =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "n/a";

    private sealed class FiniteOrNull : System.Text.Json.Serialization.JsonConverter<double>
    {
        public override double Read(
            ref Utf8JsonReader reader,
            Type typeToConvert,
            JsonSerializerOptions options
        ) => reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value))
            {
                writer.WriteNumberValue(value);
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }

    /// <summary>A line chart: one polyline per series over shared x values.</summary>
    public static string SvgChart(
        string title,
        string xLabel,
        string yLabel,
        IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> series,
        bool logX = false
    )
    {
        const int width = 720,
            height = 420,
            left = 70,
            right = 160,
            top = 40,
            bottom = 50;
        string[] colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
        var all = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y)).ToList();
        double Tx(double x) => logX ? Math.Log2(Math.Max(x, 1e-9)) : x;
        var minX = all.Count == 0 ? 0 : all.Min(p => Tx(p.X));
        var maxX = all.Count == 0 ? 1 : Math.Max(minX + 1e-9, all.Max(p => Tx(p.X)));
        var maxY = all.Count == 0 ? 1 : Math.Max(1e-9, all.Max(p => p.Y)) * 1.1;
        double Px(double x) => left + (Tx(x) - minX) / (maxX - minX) * (width - left - right);
        double Py(double y) => height - bottom - y / maxY * (height - top - bottom);
        var svg = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        svg.AppendLine(
            inv,
            $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">"
        );
        svg.AppendLine(inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        svg.AppendLine(
            inv,
            $"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>"
        );
        svg.AppendLine(
            inv,
            $"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"black\"/>"
        );
        svg.AppendLine(
            inv,
            $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"black\"/>"
        );
        for (var i = 0; i <= 5; i++)
        {
            var y = maxY * i / 5;
            svg.AppendLine(
                inv,
                $"<line x1=\"{left - 4}\" y1=\"{Py(y):0.#}\" x2=\"{width - right}\" y2=\"{Py(y):0.#}\" stroke=\"#ddd\"/>"
            );
            svg.AppendLine(
                inv,
                $"<text x=\"{left - 8}\" y=\"{Py(y) + 4:0.#}\" text-anchor=\"end\">{F(y, y < 10 ? "0.##" : "0")}</text>"
            );
        }
        foreach (var x in all.Select(p => p.X).Distinct().Order())
        {
            svg.AppendLine(
                inv,
                $"<text x=\"{Px(x):0.#}\" y=\"{height - bottom + 18}\" text-anchor=\"middle\">{F(x, "0.##")}</text>"
            );
        }
        svg.AppendLine(
            inv,
            $"<text x=\"{(left + width - right) / 2}\" y=\"{height - 12}\" text-anchor=\"middle\">{Escape(xLabel)}</text>"
        );
        svg.AppendLine(
            inv,
            $"<text transform=\"translate(18 {(top + height - bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>"
        );
        for (var s = 0; s < series.Count; s++)
        {
            var color = colors[s % colors.Length];
            var points = series[s].Points.Where(p => double.IsFinite(p.Y)).OrderBy(p => p.X).ToList();
            svg.AppendLine(
                inv,
                $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(" ", points.Select(p => $"{Px(p.X).ToString("0.#", inv)},{Py(p.Y).ToString("0.#", inv)}"))}\"/>"
            );
            foreach (var p in points)
            {
                svg.AppendLine(
                    inv,
                    $"<circle cx=\"{Px(p.X):0.#}\" cy=\"{Py(p.Y):0.#}\" r=\"3\" fill=\"{color}\"/>"
                );
            }
            svg.AppendLine(
                inv,
                $"<rect x=\"{width - right + 15}\" y=\"{top + 18 * s}\" width=\"12\" height=\"12\" fill=\"{color}\"/>"
            );
            svg.AppendLine(
                inv,
                $"<text x=\"{width - right + 32}\" y=\"{top + 18 * s + 10}\">{Escape(series[s].Name)}</text>"
            );
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string Escape(string s) =>
        s.Replace("&", "&amp;", StringComparison.Ordinal)
            .Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal);
}
