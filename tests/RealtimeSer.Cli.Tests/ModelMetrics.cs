using System.Text.Json;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Cli.Tests;

internal static class ModelMetrics
{
    /// <summary>
    /// The model's clip-level accuracy on the test split, as its manifest reports it: the first numeric
    /// "accuracy" found under a key that names the test split.
    /// </summary>
    public static double TestAccuracy(ModelManifest manifest)
    {
        if (
            manifest.Metrics is { ValueKind: JsonValueKind.Object } metrics
            && Find(metrics, underTest: false) is { } accuracy
        )
        {
            return accuracy > 1 ? accuracy / 100 : accuracy;
        }
        throw new SkipException($"model {manifest.Id} reports no test accuracy in its manifest");
    }

    private static double? Find(JsonElement element, bool underTest)
    {
        foreach (var property in element.EnumerateObject())
        {
            var isTest = underTest || property.Name.Contains("test", StringComparison.OrdinalIgnoreCase);
            if (
                property.Value.ValueKind == JsonValueKind.Number
                && isTest
                && property.Name.Contains("acc", StringComparison.OrdinalIgnoreCase)
            )
            {
                return property.Value.GetDouble();
            }
            if (property.Value.ValueKind == JsonValueKind.Object && Find(property.Value, isTest) is { } found)
            {
                return found;
            }
        }
        return null;
    }
}
