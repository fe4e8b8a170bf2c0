using System.Text.Json;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Cli.Tests;

internal static class ModelMetrics
{
    /// <summary>
    /// The model's clip-level accuracy on the test split, as its manifest reports it: the first numeric
    /// "accuracy" found under a key that names the test split (CREMA-D's test speakers when listed).
    /// </summary>
    public static double TestAccuracy(ModelManifest manifest)
    {
        // The fixture call is made of CREMA-D test speakers: a multi-corpus model is judged against its CREMA-D
        // figure, not whichever corpus its manifest happens to list first.
        if (
            manifest.Metrics is { ValueKind: JsonValueKind.Object } all
            && all.TryGetProperty("test_crema-d", out var crema)
            && crema.ValueKind == JsonValueKind.Object
            && crema.TryGetProperty("accuracy", out var cremaAccuracy)
        )
        {
            return cremaAccuracy.GetDouble();
        }
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
