using System.CommandLine;
using System.Text.Json;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser models</c>: installed models with labels and metrics.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "One JSON line per model." };
        var command = new Command("models", "List installed emotion models with their labels and metrics.")
        {
            json,
        };
        command.SetAction(
            (parse, _) =>
                CliErrors.RunAsync(() =>
                {
                    var models = ModelCatalog.List(
                        (dir, e) => Console.Error.WriteLine($"ser: skipping {dir}: {e.Message}")
                    );
                    if (models.Count == 0)
                    {
                        Console.Error.WriteLine(
                            $"ser: no models installed (looked in: {string.Join(", ", ModelCatalog.Folders())})"
                        );
                        return Task.FromResult(1);
                    }
                    foreach (var m in models)
                    {
                        Console.WriteLine(parse.GetValue(json) ? ToJson(m) : ToText(m));
                    }
                    return Task.FromResult(0);
                })
        );
        return command;
    }

    private static string ToText(ModelManifest m)
    {
        var metrics = m.Metrics is { ValueKind: JsonValueKind.Object } obj
            ? string.Join(", ", Flatten(obj, ""))
            : "";
        return $"{m.Id}{(m.Name is null ? "" : $" ({m.Name})")}\n"
            + $"  labels:  {string.Join(", ", m.Labels)}\n"
            + $"  window:  {m.RecommendedWindowSeconds:0.##} s, hop {m.RecommendedHopSeconds:0.##} s, minimum {m.MinWindowSeconds:0.##} s\n"
            + (metrics.Length > 0 ? $"  metrics: {metrics}\n" : "")
            + $"  path:    {m.ModelPath}";
    }

    private static string ToJson(ModelManifest m)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", m.Id);
            json.WriteString("name", m.Name);
            json.WriteStartArray("labels");
            foreach (var l in m.Labels)
            {
                json.WriteStringValue(l);
            }
            json.WriteEndArray();
            json.WriteString("path", m.ModelPath);
            if (m.Metrics is { } metrics)
            {
                json.WritePropertyName("metrics");
                metrics.WriteTo(json);
            }
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Numeric metrics one or two levels deep, e.g. "test_opus.accuracy 0.612".</summary>
    private static IEnumerable<string> Flatten(JsonElement element, string prefix)
    {
        foreach (var p in element.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Number)
            {
                yield return $"{prefix}{p.Name} {p.Value.GetDouble():0.###}";
            }
            else if (p.Value.ValueKind == JsonValueKind.Object && prefix.Length == 0)
            {
                foreach (var inner in Flatten(p.Value, p.Name + "."))
                {
                    yield return inner;
                }
            }
        }
    }
}
