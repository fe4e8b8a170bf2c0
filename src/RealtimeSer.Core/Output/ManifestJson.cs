using System.Text.Json;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Core.Output;

/// <summary>
/// A model's manifest as every JSON surface writes it (<c>ser models --json</c>, <c>/v1/models</c>, the
/// WebSocket's <c>ready</c>, an upload's answer): one spelling of each field. <c>is_default</c> is the
/// canonical name of the default flag; <c>ser models --json</c> also keeps the <c>default</c> its users' scripts
/// read.
/// </summary>
public static class ManifestJson
{
    /// <summary>The model as an object: id, name, labels, windows and whether it is a default.</summary>
    /// <param name="details">Also where it was loaded from, its temperature, training corpora and metrics.</param>
    public static void Write(
        Utf8JsonWriter json,
        ModelManifest manifest,
        bool isDefault,
        bool details = false
    )
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(manifest);
        json.WriteStartObject();
        json.WriteString("id", manifest.Id);
        json.WriteString("name", manifest.Name ?? manifest.Id);
        WriteLabels(json, manifest);
        json.WriteNumber("min_window_seconds", manifest.MinWindowSeconds);
        json.WriteNumber("recommended_window_seconds", manifest.RecommendedWindowSeconds);
        json.WriteNumber("recommended_hop_seconds", manifest.RecommendedHopSeconds);
        json.WriteBoolean("is_default", isDefault);
        if (details)
        {
            json.WriteBoolean("default", isDefault);
            json.WriteString("path", manifest.ModelPath);
            json.WriteNumber("temperature", manifest.Temperature);
            json.WriteStartArray("training_corpora");
            foreach (var c in manifest.TrainingCorpora)
            {
                json.WriteStartObject();
                json.WriteString("id", c.Id);
                json.WriteString("language", c.Language);
                json.WriteString("licence", c.Licence);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (manifest.Metrics is { } metrics)
            {
                json.WritePropertyName("metrics");
                metrics.WriteTo(json);
            }
        }
        json.WriteEndObject();
    }

    /// <summary><c>"labels": [...]</c>, in the order of the model's scores.</summary>
    public static void WriteLabels(Utf8JsonWriter json, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(manifest);
        json.WriteStartArray("labels");
        foreach (var label in manifest.Labels)
        {
            json.WriteStringValue(label);
        }
        json.WriteEndArray();
    }
}
