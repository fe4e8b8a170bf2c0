using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Tests.Fakes;

/// <summary>
/// A classifier whose answer is hidden in the audio: the window's DC offset, in steps of 0.05, is the label
/// index (clamped to the last label). Lets engine and server tests check that every result reaches the right
/// stream, channel and segment. <paramref name="clobberInput"/> zeroes the windows after reading them, as a
/// classifier that normalises in place may, so tests can see that each model gets the audio untouched.
/// </summary>
internal sealed class FakeClassifier(
    int labels = 4,
    TimeSpan? delay = null,
    Func<int, bool>? failWhen = null,
    string id = "fake",
    bool clobberInput = false
) : IEmotionClassifier
{
    public const float Step = 0.05f;
    private int _runs;

    public ModelManifest Manifest { get; } =
        new()
        {
            Id = id,
            ModelPath = typeof(FakeClassifier).Assembly.Location,
            Labels = Enumerable.Range(0, labels).Select(i => $"label{i}").ToList(),
            MinWindowSeconds = 0.5,
            RecommendedWindowSeconds = 1.0,
            RecommendedHopSeconds = 0.5,
        };

    public int Runs => Volatile.Read(ref _runs);

    public List<int> BatchSizes { get; } = [];

    /// <summary>The smallest and largest sample of every window it was given (guarded by <see cref="BatchSizes"/>).</summary>
    public (float Min, float Max) InputRange { get; private set; } = (float.MaxValue, float.MinValue);

    public ValueTask ClassifyAsync(
        Memory<float> windows,
        int count,
        Memory<float> probabilities,
        CancellationToken ct = default
    )
    {
        var run = Interlocked.Increment(ref _runs);
        if (failWhen?.Invoke(run) == true)
        {
            throw new InvalidOperationException("fake model failure");
        }
        if (delay is { } d)
        {
            Thread.Sleep(d); // the model's cost: real time is the point
        }
        lock (BatchSizes)
        {
            BatchSizes.Add(count);
            InputRange = (
                Math.Min(InputRange.Min, System.Numerics.Tensors.TensorPrimitives.Min(windows.Span)),
                Math.Max(InputRange.Max, System.Numerics.Tensors.TensorPrimitives.Max(windows.Span))
            );
        }
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
        if (clobberInput)
        {
            windows.Span.Clear();
        }
        return ValueTask.CompletedTask;
    }

    public void Dispose() { }
}
