using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Server.Tests;

/// <summary>A stand-in model (copied from the Core tests' fake): the window's DC offset, in steps of 0.05, is the label.</summary>
internal sealed class TestClassifier(int labels = 4) : IEmotionClassifier
{
    public const float Step = 0.05f;

    public ModelManifest Manifest { get; } =
        new()
        {
            Id = "fake",
            ModelPath = typeof(TestClassifier).Assembly.Location,
            Labels = Enumerable.Range(0, labels).Select(i => $"label{i}").ToList(),
            MinWindowSeconds = 0.5,
            RecommendedWindowSeconds = 1.0,
            RecommendedHopSeconds = 0.5,
        };

    public ValueTask ClassifyAsync(
        Memory<float> windows,
        int count,
        Memory<float> probabilities,
        CancellationToken cancellationToken = default
    )
    {
        var n = Manifest.Labels.Count;
        var length = windows.Length / count;
        for (var i = 0; i < count; i++)
        {
            var window = windows.Span.Slice(i * length, length);
            double sum = 0;
            foreach (var x in window)
            {
                sum += x;
            }
            var label = Math.Clamp((int)Math.Round(sum / length / Step), 0, n - 1);
            var row = probabilities.Span.Slice(i * n, n);
            row.Fill(0.1f / (n - 1));
            row[label] = 0.9f;
        }
        return ValueTask.CompletedTask;
    }

    public void Dispose() { }
}
