using System.Buffers;
using System.Text.Json;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Core.Output;

/// <summary>
/// The one JSON Lines schema for emotion events, shared by <c>ser replay</c>, <c>ser stream --json</c> and
/// <c>ser listen --json</c>: <c>{"file","channel","channel_name","segment","start_s","end_s","label",
/// "scores":{label:p},"final","latency_ms":{...}}</c>. Field names are a contract for users' scripts.
/// With several models (<c>--model general6,arousal3a</c>) the leading fields stay the first model's, and
/// <c>"models":{id:{"label","scores"}}</c> plus <c>latency_ms.inference_by_model:{id:ms}</c> carry every one.
/// </summary>
public static class EventJson
{
    /// <summary>Writes one event as a single JSON object (no newline).</summary>
    public static void Write(Utf8JsonWriter json, EmotionEvent e, string? file)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(e);
        json.WriteStartObject();
        if (file is not null)
        {
            json.WriteString("file", file);
        }
        json.WriteNumber("channel", e.Channel);
        if (e.ChannelName is not null)
        {
            json.WriteString("channel_name", e.ChannelName);
        }
        json.WriteNumber("segment", e.Segment);
        json.WriteNumber("start_s", Math.Round(e.StartSeconds, 3));
        json.WriteNumber("end_s", Math.Round(e.EndSeconds, 3));
        json.WriteString("label", e.Label);
        WriteScores(json, e.Labels, e.Scores, 4);
        if (e.Models.Count > 1)
        {
            json.WriteStartObject("models");
            foreach (var m in e.Models)
            {
                json.WriteStartObject(m.Model);
                json.WriteString("label", m.Label);
                WriteScores(json, m.Labels, m.Scores, 4);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        json.WriteBoolean("final", e.IsFinal);
        if (e.IsFinal)
        {
            json.WriteNumber("windows", e.Windows);
            json.WriteNumber("windows_dropped", e.WindowsDropped);
        }
        json.WriteStartObject("latency_ms");
        json.WriteNumber("queue", Math.Round(e.Latency.QueueMs, 2));
        json.WriteNumber("inference", Math.Round(e.Latency.InferenceMs, 2));
        json.WriteNumber("batch", e.Latency.BatchSize);
        json.WriteNumber("end_to_end", Math.Round(e.Latency.EndToEndMs, 2));
        if (e.Models.Count > 1)
        {
            json.WriteStartObject("inference_by_model");
            foreach (var m in e.Models)
            {
                json.WriteNumber(m.Model, Math.Round(m.InferenceMs, 2));
            }
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary><c>"scores":{label:p}</c>, rounded to <paramref name="digits"/>.</summary>
    public static void WriteScores(
        Utf8JsonWriter json,
        IReadOnlyList<string> labels,
        IReadOnlyList<float> scores,
        int digits
    )
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(scores);
        json.WriteStartObject("scores");
        for (var i = 0; i < labels.Count; i++)
        {
            json.WriteNumber(labels[i], Math.Round(scores[i], digits));
        }
        json.WriteEndObject();
    }

    /// <summary>One event as a JSON line (without the trailing newline).</summary>
    public static string ToLine(EmotionEvent e, string? file)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            Write(json, e, file);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
