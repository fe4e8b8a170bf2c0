using RealtimeSer.Core.Models;

namespace RealtimeSer.Core.Inference;

/// <summary>
/// The one seam between the engine and a model: the scheduler hands over equal-length windows and gets
/// probabilities back, knowing nothing of ONNX; the classifier knows nothing of streams.
/// </summary>
public interface IEmotionClassifier : IDisposable
{
    ModelManifest Manifest { get; }

    /// <summary>
    /// Classifies <paramref name="count"/> windows of 16 kHz audio stored back to back in
    /// <paramref name="windows"/> (which the classifier may normalize in place), writing
    /// <c>count × labels</c> probabilities, each row summing to 1, into <paramref name="probabilities"/>.
    /// </summary>
    ValueTask ClassifyAsync(
        Memory<float> windows,
        int count,
        Memory<float> probabilities,
        CancellationToken cancellationToken = default
    );
}
