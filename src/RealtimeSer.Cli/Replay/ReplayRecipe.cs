using System.Text.Json;
using RealtimeSer.Core.Ingest;

namespace RealtimeSer.Cli.Replay;

/// <summary>
/// The settings that shape a replay's output, recorded in each summary (<c>"settings"</c>) so that
/// <c>--resume</c> redoes an output made with other settings instead of taking it for done. Settings that
/// change only speed (<c>-j</c>, <c>--batch</c>, <c>--quiet</c>) are not part of it.
/// </summary>
internal sealed record ReplayRecipe(
    IReadOnlyList<string> Models,
    ReplayFormat Format,
    bool FinalsOnly,
    ChannelMode Mode,
    IReadOnlyList<string>? ChannelNames,
    double? WindowSeconds,
    double? HopSeconds
)
{
    public const string Property = "settings";

    /// <summary>Writes <c>"settings": {...}</c> into the summary being written.</summary>
    public void WriteTo(Utf8JsonWriter json)
    {
        ArgumentNullException.ThrowIfNull(json);
        json.WriteStartObject(Property);
        // Empty: the server's default set (replay --server without --model).
        json.WriteStartArray("models");
        foreach (var m in Models)
        {
            json.WriteStringValue(m);
        }
        json.WriteEndArray();
        json.WriteString("format", Format == ReplayFormat.Jsonl ? "jsonl" : "csv");
        json.WriteBoolean("finals_only", FinalsOnly);
        json.WriteString("channels", Mode == ChannelMode.Mix ? "mix" : "split");
        if (Mode != ChannelMode.Mix && ChannelNames is { Count: > 0 } names)
        {
            json.WriteStartArray("channel_names");
            foreach (var n in names)
            {
                json.WriteStringValue(n);
            }
            json.WriteEndArray();
        }
        else
        {
            json.WriteNull("channel_names");
        }
        WriteNumber(json, "window_s", WindowSeconds);
        WriteNumber(json, "hop_s", HopSeconds);
        json.WriteEndObject();
    }

    /// <summary>Whether a summary records the settings it was made with.</summary>
    public static bool IsRecorded(JsonElement summary) =>
        summary.ValueKind == JsonValueKind.Object
        && summary.TryGetProperty(Property, out var recorded)
        && recorded.ValueKind == JsonValueKind.Object;

    /// <summary>
    /// How the settings recorded in a summary differ from these, e.g. "models general6 → crema6"; null
    /// when they are the same.
    /// </summary>
    public string? Differences(JsonElement summary)
    {
        if (!IsRecorded(summary))
        {
            return "no settings recorded";
        }
        var recorded = summary.GetProperty(Property);
        using var current = JsonDocument.Parse(ToJson());
        var changes = new List<string>();
        foreach (var p in current.RootElement.GetProperty(Property).EnumerateObject())
        {
            var before = recorded.TryGetProperty(p.Name, out var v) ? Show(v) : "(none)";
            var now = Show(p.Value);
            if (before != now)
            {
                changes.Add($"{p.Name} {before} → {now}");
            }
        }
        return changes.Count == 0 ? null : string.Join(", ", changes);
    }

    private string ToJson() => JsonLine.Of(WriteTo);

    private static string Show(JsonElement value) =>
        value.ValueKind switch
        {
            JsonValueKind.Array => string.Join(",", value.EnumerateArray().Select(Show))
                is { Length: > 0 } list
                ? list
                : "(default)",
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Null => "(default)",
            _ => value.GetRawText(),
        };

    private static void WriteNumber(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
