using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>The engines this server offers, one per model; the first is the default.</summary>
public sealed class ModelRegistry
{
    private readonly EmotionEngine[] _engines;

    public ModelRegistry(params EmotionEngine[] engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        if (engines.Length == 0)
        {
            throw new ArgumentException("at least one model is needed.", nameof(engines));
        }
        _engines = engines;
    }

    public EmotionEngine Default => _engines[0];

    public IReadOnlyList<EmotionEngine> Engines => _engines;

    public long ActiveStreams => _engines.Sum(e => e.ActiveStreams);

    public EmotionEngine? Find(string id) =>
        string.IsNullOrEmpty(id)
            ? Default
            : _engines.FirstOrDefault(e =>
                string.Equals(e.Classifier.Manifest.Id, id, StringComparison.Ordinal)
            );
}
