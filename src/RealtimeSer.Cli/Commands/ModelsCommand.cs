using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Output;

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
        var metrics = m.Metrics is { ValueKind: JsonValueKind.Object } obj ? Summarize(obj).ToList() : [];
        var corpora = string.Join(
            "\n           ",
            m.TrainingCorpora.Select(c =>
                $"{c.Id}{(c.Language is null ? "" : $" ({c.Language})")}{(c.Licence is null ? "" : $": {c.Licence}")}"
            )
        );
        return $"{m.Id}{(m.Name is null ? "" : $" ({m.Name})")}{(m.Id == ModelCatalog.DefaultModelId ? " [default]" : "")}\n"
            + $"  labels:  {string.Join(", ", m.Labels)}\n"
            + $"  window:  {m.RecommendedWindowSeconds:0.##} s, hop {m.RecommendedHopSeconds:0.##} s, minimum {m.MinWindowSeconds:0.##} s\n"
            + (corpora.Length > 0 ? $"  corpora: {corpora}\n" : "")
            + (metrics.Count > 0 ? $"  metrics: {string.Join("\n           ", metrics)}\n" : "")
            + $"  path:    {m.ModelPath}";
    }

    /// <summary>
    /// One line per evaluation set ("test_crema-d: accuracy 0.631, macro_recall 0.635, n 1230"), so that a model
    /// scored on many corpora stays readable; plain numbers and lists as they are.
    /// </summary>
    private static IEnumerable<string> Summarize(JsonElement metrics)
    {
        foreach (var p in metrics.EnumerateObject())
        {
            var v = p.Value;
            if (v.ValueKind == JsonValueKind.Number)
            {
                yield return $"{p.Name} {v.GetDouble().ToString("0.####", CultureInfo.InvariantCulture)}";
            }
            else if (v.ValueKind == JsonValueKind.Array)
            {
                yield return $"{p.Name} {string.Join(", ", v.EnumerateArray().Select(e => e.ToString()))}";
            }
            else if (v.ValueKind == JsonValueKind.Object)
            {
                var parts = Flatten(v, "")
                    .Where(f => !f.StartsWith("macro_f1", StringComparison.Ordinal))
                    .ToList();
                yield return $"{p.Name}: {string.Join(", ", parts)}";
            }
        }
    }

    private static string ToJson(ModelManifest m)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            ManifestJson.Write(json, m, m.Id == ModelCatalog.DefaultModelId, details: true);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Numeric metrics one or two levels deep, e.g. "test_opus.accuracy 0.6123", to the manifest's own
    /// four places: rounded again, 0.6415 showed as 0.642 beside the 64.1 % its model card gives.
    /// </summary>
    private static IEnumerable<string> Flatten(JsonElement element, string prefix)
    {
        foreach (var p in element.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Number)
            {
                yield return $"{prefix}{p.Name} {p.Value.GetDouble().ToString("0.####", CultureInfo.InvariantCulture)}";
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
