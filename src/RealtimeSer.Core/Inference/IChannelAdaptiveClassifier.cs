namespace RealtimeSer.Core.Inference;

/// <summary>
/// A classifier that adapts to each channel's speaker. Its plain <see cref="IEmotionClassifier.ClassifyAsync"/>
/// judges every window as the first of a new channel; the engine instead computes feature vectors in batches and
/// turns them into probabilities per channel, in window order, with an adapter that remembers the channel so far.
/// </summary>
public interface IChannelAdaptiveClassifier : IEmotionClassifier
{
    /// <summary>False for a model without adaptation (its adapter would do nothing).</summary>
    bool AdaptsPerChannel { get; }

    /// <summary>Length of one window's feature vector.</summary>
    int FeatureCount { get; }

    /// <summary>
    /// Feature vectors (<c>count × FeatureCount</c>) of <paramref name="count"/> equal windows stored back to back.
    /// Windows are independent, so batches may run in any order.
    /// </summary>
    void ComputeFeatures(Memory<float> windows, int count, Memory<float> features);

    /// <summary>A fresh adapter for one channel.</summary>
    IChannelAdapter CreateChannelAdapter();
}

/// <summary>One channel's adaptation state. Not thread-safe: the caller feeds windows one at a time, in order.</summary>
public interface IChannelAdapter
{
    /// <summary>Adds the window's features to the channel's statistics and writes its probabilities.</summary>
    void Adapt(ReadOnlySpan<float> features, Span<float> probabilities);
}
