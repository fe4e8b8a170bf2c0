using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Tests.Fakes;

/// <summary>
/// A per-channel adaptive classifier whose one feature is the window's mean sample (its DC offset). Each channel's
/// adapter records the features it is given, so tests can check that adaptation sees a channel's windows in
/// order, once each, however batches finished. Batches sleep a random few milliseconds to finish out of order.
/// </summary>
internal sealed class FakeAdaptiveClassifier(int labels = 4) : IChannelAdaptiveClassifier
{
    private readonly Random _random = new(11);

    public ModelManifest Manifest { get; } =
        new()
        {
            Id = "fake-adaptive",
            ModelPath = typeof(FakeAdaptiveClassifier).Assembly.Location,
            Labels = Enumerable.Range(0, labels).Select(i => $"label{i}").ToList(),
            MinWindowSeconds = 0.5,
            RecommendedWindowSeconds = 1.0,
            RecommendedHopSeconds = 0.25,
        };

    public bool AdaptsPerChannel => true;

    public int FeatureCount => 1;

    public List<Adapter> Adapters { get; } = [];

    public void ComputeFeatures(Memory<float> windows, int count, Memory<float> features)
    {
        int pause;
        lock (_random)
        {
            pause = _random.Next(0, 6);
        }
        Thread.Sleep(pause); // a random cost, so channels finish out of order: real time is the point
        var length = windows.Length / count;
        for (var i = 0; i < count; i++)
        {
            double sum = 0;
            foreach (var x in windows.Span.Slice(i * length, length))
            {
                sum += x;
            }
            features.Span[i] = (float)(sum / length);
        }
    }

    public IChannelAdapter CreateChannelAdapter()
    {
        var adapter = new Adapter(Manifest.Labels.Count);
        lock (Adapters)
        {
            Adapters.Add(adapter);
        }
        return adapter;
    }

    public ValueTask ClassifyAsync(
        Memory<float> windows,
        int count,
        Memory<float> probabilities,
        CancellationToken cancellationToken = default
    ) => throw new InvalidOperationException("the engine must use the adaptive path");

    public void Dispose() { }

    internal sealed class Adapter(int labels) : IChannelAdapter
    {
        public List<float> Seen { get; } = [];

        public void Adapt(ReadOnlySpan<float> features, Span<float> probabilities)
        {
            Seen.Add(features[0]);
            probabilities[..labels].Fill(1f / labels);
        }
    }
}
