namespace RealtimeSer.Core.Inference;

/// <summary>Scores of a whole clip: the label and probabilities per label.</summary>
public sealed record ClipResult(string Label, IReadOnlyList<string> Labels, float[] Scores);

/// <summary>
/// Classifies whole clips. Up to <see cref="MaxSingleWindowSeconds"/> the clip is one window (as the model was
/// trained); longer recordings are cut into recommended-length windows whose probabilities are averaged,
/// so memory stays bounded. Clips shorter than the model's minimum are zero-padded to it.
/// </summary>
public static class ClipClassifier
{
    public const double MaxSingleWindowSeconds = 30;

    /// <param name="channel">
    /// For a model that adapts to the speaker: the channel this clip continues (several recordings of one speaker
    /// in order), or null to judge the clip on its own.
    /// </param>
    public static async Task<ClipResult> ClassifyAsync(
        IEmotionClassifier classifier,
        float[] samples16k,
        CancellationToken cancellationToken = default,
        IChannelAdapter? channel = null
    )
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(samples16k);
        var manifest = classifier.Manifest;
        var labels = manifest.Labels.Count;
        var min = (int)(manifest.MinWindowSeconds * 16000);
        var scores = new float[labels];
        float[] windows;
        int count;
        if (samples16k.Length <= MaxSingleWindowSeconds * 16000)
        {
            windows = new float[Math.Max(min, samples16k.Length)];
            samples16k.CopyTo(windows, 0);
            count = 1;
        }
        else
        {
            var length = (int)(manifest.RecommendedWindowSeconds * 16000);
            count = samples16k.Length / length;
            windows = new float[count * length];
            Array.Copy(samples16k, windows, windows.Length);
        }
        var all = new float[count * labels];
        if (
            classifier is IChannelAdaptiveClassifier { AdaptsPerChannel: true } adaptive
            && (channel is not null || count > 1)
        )
        {
            // A long recording, or a clip that continues a speaker's channel: its windows adapt in order, as a
            // live channel's would.
            var features = new float[count * adaptive.FeatureCount];
            adaptive.ComputeFeatures(windows, count, features);
            var adapter = channel ?? adaptive.CreateChannelAdapter();
            for (var i = 0; i < count; i++)
            {
                adapter.Adapt(
                    features.AsSpan(i * adaptive.FeatureCount, adaptive.FeatureCount),
                    all.AsSpan(i * labels, labels)
                );
            }
        }
        else
        {
            await classifier.ClassifyAsync(windows, count, all, cancellationToken);
        }
        for (var i = 0; i < all.Length; i++)
        {
            scores[i % labels] += all[i] / count;
        }
        var best = 0;
        for (var i = 1; i < labels; i++)
        {
            if (scores[i] > scores[best])
            {
                best = i;
            }
        }
        return new ClipResult(manifest.Labels[best], manifest.Labels, scores);
    }
}
