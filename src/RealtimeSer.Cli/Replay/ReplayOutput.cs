using System.Globalization;
using System.Text;
using System.Text.Json;
using RealtimeSer.Core.Output;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Cli.Replay;

internal enum ReplayFormat
{
    Jsonl,
    Csv,
}

/// <summary>
/// Writes one recording's events to a temporary file and renames it into place only when the recording is
/// complete, so a crash or Ctrl+C never leaves a half-written output that looks finished. The summary is
/// written last and marks the output complete for <c>--resume</c>.
/// </summary>
internal sealed class ReplayOutput : IAsyncDisposable
{
    private readonly string _path;
    private readonly string _temporary;
    private readonly string _file;
    private readonly ReplayFormat _format;
    private readonly ReplayRecipe? _recipe;
    private readonly StreamWriter _writer;
    private readonly Dictionary<int, ChannelSummary> _channels = [];
    private bool _headerWritten;
    private bool _committed;

    public ReplayOutput(string outDir, ReplayInput input, ReplayFormat format, ReplayRecipe? recipe = null)
    {
        _format = format;
        _recipe = recipe;
        _file = input.Path;
        _path = OutputPath(outDir, input, format);
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _temporary = $"{_path}.{Environment.ProcessId}.tmp";
        _writer = new StreamWriter(_temporary, append: false, new UTF8Encoding(false), bufferSize: 1 << 16);
    }

    public static string OutputPath(string outDir, ReplayInput input, ReplayFormat format) =>
        Path.Combine(outDir, input.OutputName + (format == ReplayFormat.Jsonl ? ".jsonl" : ".csv"));

    public static string SummaryPath(string outDir, ReplayInput input) =>
        Path.Combine(outDir, input.OutputName + ".summary.json");

    /// <summary>Complete outputs have both the events file and the summary.</summary>
    public static bool IsComplete(string outDir, ReplayInput input, ReplayFormat format) =>
        File.Exists(OutputPath(outDir, input, format)) && File.Exists(SummaryPath(outDir, input));

    /// <summary>What <see cref="WhyRedo"/> says of an output that is not there (or not complete) yet.</summary>
    public const string NotWritten = "not written yet";

    /// <summary>
    /// Whether <c>--resume</c> may keep this input's output: null when it is complete and was made with
    /// <paramref name="recipe"/>'s settings, else why it must be redone (<see cref="NotWritten"/>, or what
    /// changed).
    /// </summary>
    public static string? WhyRedo(string outDir, ReplayInput input, ReplayRecipe recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        if (!IsComplete(outDir, input, recipe.Format))
        {
            return NotWritten;
        }
        try
        {
            using var summary = JsonDocument.Parse(File.ReadAllText(SummaryPath(outDir, input)));
            if (!ReplayRecipe.IsRecorded(summary.RootElement))
            {
                return "it records no settings (an older ser wrote it)";
            }
            return recipe.Differences(summary.RootElement) is { } changed
                ? $"made with other settings ({changed})"
                : null;
        }
        catch (JsonException)
        {
            return "its summary is unreadable";
        }
    }

    public async Task WriteAsync(EmotionEvent e)
    {
        if (e.IsFinal)
        {
            var channel = _channels.TryGetValue(e.Channel, out var c)
                ? c
                : _channels[e.Channel] = new ChannelSummary(e.ChannelName);
            channel.Add(e);
        }
        if (_format == ReplayFormat.Jsonl)
        {
            await _writer.WriteLineAsync(EventJson.ToLine(e, _file));
            return;
        }
        if (!_headerWritten)
        {
            // Models after the first (arousal beside emotion) add their own label and score columns.
            await _writer.WriteLineAsync(
                "file,channel,channel_name,segment,start_s,end_s,final,label,"
                    + string.Join(",", e.Labels.Select(l => $"score_{l}"))
                    + string.Concat(
                        e.Models.Skip(1)
                            .Select(m =>
                                $",{m.Model}_label"
                                + string.Concat(m.Labels.Select(l => $",{m.Model}_score_{l}"))
                            )
                    )
            );
            _headerWritten = true;
        }
        var line = new StringBuilder();
        line.Append(Csv(_file)).Append(',').Append(e.Channel).Append(',').Append(Csv(e.ChannelName ?? ""));
        line.Append(',').Append(e.Segment);
        line.Append(',').Append(e.StartSeconds.ToString("0.000", CultureInfo.InvariantCulture));
        line.Append(',').Append(e.EndSeconds.ToString("0.000", CultureInfo.InvariantCulture));
        line.Append(',').Append(e.IsFinal ? "true" : "false").Append(',').Append(e.Label);
        foreach (var s in e.Scores)
        {
            line.Append(',').Append(s.ToString("0.0000", CultureInfo.InvariantCulture));
        }
        foreach (var m in e.Models.Skip(1))
        {
            line.Append(',').Append(m.Label);
            foreach (var s in m.Scores)
            {
                line.Append(',').Append(s.ToString("0.0000", CultureInfo.InvariantCulture));
            }
        }
        await _writer.WriteLineAsync(line.ToString());
    }

    /// <summary>Moves the events into place, then writes the summary that marks them complete.</summary>
    public async Task CommitAsync(string outDir, ReplayInput input, ReplayStats stats)
    {
        await _writer.FlushAsync();
        await _writer.DisposeAsync();
        File.Move(_temporary, _path, overwrite: true);
        var summary = SummaryPath(outDir, input);
        var temporary = $"{summary}.{Environment.ProcessId}.tmp";
        await File.WriteAllTextAsync(temporary, SummaryJson(stats));
        File.Move(temporary, summary, overwrite: true);
        _committed = true;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_committed)
        {
            await _writer.DisposeAsync();
            File.Delete(_temporary);
        }
    }

    private string SummaryJson(ReplayStats stats)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("file", _file);
            json.WriteNumber("duration_s", Math.Round(stats.AudioSeconds, 3));
            json.WriteNumber("elapsed_s", Math.Round(stats.ElapsedSeconds, 3));
            json.WriteNumber(
                "speed_x_realtime",
                Math.Round(stats.AudioSeconds / Math.Max(1e-9, stats.ElapsedSeconds), 1)
            );
            json.WriteNumber("windows", stats.Windows);
            json.WriteNumber("windows_dropped", stats.Dropped);
            _recipe?.WriteTo(json);
            json.WriteStartArray("channels");
            foreach (var (index, channel) in _channels.OrderBy(c => c.Key))
            {
                json.WriteStartObject();
                json.WriteNumber("channel", index);
                if (channel.Name is not null)
                {
                    json.WriteString("channel_name", channel.Name);
                }
                json.WriteNumber("segments", channel.Segments);
                json.WriteNumber("speech_s", Math.Round(channel.SpeechSeconds, 3));
                json.WriteStartObject("label_share");
                foreach (var (label, seconds) in channel.LabelSeconds.OrderByDescending(p => p.Value))
                {
                    json.WriteNumber(label, Math.Round(seconds / Math.Max(1e-9, channel.SpeechSeconds), 4));
                }
                json.WriteEndObject();
                if (channel.ModelSeconds.Count > 1)
                {
                    // Each model's share of speech time by label (e.g. arousal3a: how much was high).
                    json.WriteStartObject("label_share_by_model");
                    foreach (var (model, labels) in channel.ModelSeconds)
                    {
                        json.WriteStartObject(model);
                        foreach (var (label, seconds) in labels.OrderByDescending(p => p.Value))
                        {
                            json.WriteNumber(
                                label,
                                Math.Round(seconds / Math.Max(1e-9, channel.SpeechSeconds), 4)
                            );
                        }
                        json.WriteEndObject();
                    }
                    json.WriteEndObject();
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static string Csv(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0
            ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\""
            : value;

    private sealed class ChannelSummary(string? name)
    {
        public string? Name { get; } = name;
        public int Segments { get; private set; }
        public double SpeechSeconds { get; private set; }
        public Dictionary<string, double> LabelSeconds { get; } = [];

        /// <summary>Per model (in event order), seconds of speech by final label.</summary>
        public List<(string Model, Dictionary<string, double> Labels)> ModelSeconds { get; } = [];

        public void Add(EmotionEvent final)
        {
            var seconds = final.EndSeconds - final.StartSeconds;
            Segments++;
            SpeechSeconds += seconds;
            LabelSeconds[final.Label] = LabelSeconds.GetValueOrDefault(final.Label) + seconds;
            foreach (var m in final.Models)
            {
                var index = ModelSeconds.FindIndex(p => p.Model == m.Model);
                if (index < 0)
                {
                    ModelSeconds.Add((m.Model, []));
                    index = ModelSeconds.Count - 1;
                }
                var labels = ModelSeconds[index].Labels;
                labels[m.Label] = labels.GetValueOrDefault(m.Label) + seconds;
            }
        }
    }
}

internal sealed record ReplayStats(double AudioSeconds, double ElapsedSeconds, long Windows, long Dropped);
