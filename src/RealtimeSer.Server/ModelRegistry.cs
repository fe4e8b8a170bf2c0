using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>
/// The engines this server offers; the first is the default (one model, or a set such as emotion and
/// arousal). A stream may ask for another set of the loaded models: its engine is built on first use, shares
/// the loaded models, the VAD and the metrics, and lives until the registry is disposed.
/// </summary>
public sealed class ModelRegistry : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<EmotionEngine> _engines;
    private readonly List<EmotionEngine> _built = [];
    private readonly int _given;

    public ModelRegistry(params EmotionEngine[] engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        if (engines.Length == 0)
        {
            throw new ArgumentException("at least one model is needed.", nameof(engines));
        }
        _engines = [.. engines];
        _given = engines.Length;
    }

    public EmotionEngine Default => _engines[0];

    /// <summary>The engines given at start-up (not those built for other model sets).</summary>
    public IReadOnlyList<EmotionEngine> Engines => _engines.Take(_given).ToArray();

    /// <summary>Every loaded model once, in the order the engines list them.</summary>
    public IReadOnlyList<IEmotionClassifier> Classifiers =>
        _engines.Take(_given).SelectMany(e => e.Classifiers).DistinctBy(c => c.Manifest.Id).ToArray();

    public long ActiveStreams
    {
        get
        {
            lock (_gate)
            {
                // Engines built here share their metrics with the default, so count each metrics once.
                return _engines.Select(e => e.Metrics).Distinct().Sum(m => m.ActiveStreams);
            }
        }
    }

    /// <summary>The engine for exactly one model id (empty: the default set).</summary>
    public EmotionEngine? Find(string id) => Find(id, []);

    /// <summary>Ids of models installed on this machine that this server has not loaded.</summary>
    public IReadOnlyList<string> InstalledNotLoaded()
    {
        var loaded = Classifiers.Select(c => c.Manifest.Id).ToHashSet(StringComparer.Ordinal);
        return
        [
            .. RealtimeSer
                .Core.Models.ModelCatalog.List()
                .Select(m => m.Id)
                .Where(id => !loaded.Contains(id)),
        ];
    }

    /// <summary>What to tell a client that named a model this server does not serve.</summary>
    public string UnknownModel(IReadOnlyList<string> ids, string field)
    {
        var installed = InstalledNotLoaded();
        var notLoaded = ids.Where(installed.Contains).ToList();
        if (notLoaded.Count > 0)
        {
            var wanted = string.Join(',', Default.ModelIds.Concat(notLoaded).Distinct());
            return $"Model {string.Join(", ", notLoaded.Select(id => $"'{id}'"))} is installed on the server but not loaded by it: "
                + $"start `ser serve --model {wanted}` (or set Server:Models) to serve it.";
        }
        return ids.Count > 1
            ? $"Unknown or repeated model in {field} [{string.Join(", ", ids)}]; ListModels shows the ids this server has loaded."
            : $"Unknown model '{ids.FirstOrDefault()}'; ListModels shows the ids, or leave it empty for the default.";
    }

    /// <summary>
    /// The engine for exactly <paramref name="ids"/> when given, in that order, else for exactly the one model
    /// <paramref name="id"/>, else the default; built from the loaded models when no engine runs that set yet.
    /// Null when a model is not loaded here or is listed twice.
    /// </summary>
    public EmotionEngine? Find(string id, IReadOnlyList<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            if (string.IsNullOrEmpty(id))
            {
                return Default;
            }
            ids = [id];
        }
        lock (_gate)
        {
            var existing = _engines.FirstOrDefault(e =>
                e.ModelIds.SequenceEqual(ids, StringComparer.Ordinal)
            );
            if (existing is not null)
            {
                return existing;
            }
            var loaded = Classifiers;
            var chosen = new List<IEmotionClassifier>(ids.Count);
            foreach (var want in ids)
            {
                var c = loaded.FirstOrDefault(c =>
                    string.Equals(c.Manifest.Id, want, StringComparison.Ordinal)
                );
                if (c is null)
                {
                    return null;
                }
                chosen.Add(c);
            }
            if (chosen.DistinctBy(c => c.Manifest.Id).Count() != chosen.Count)
            {
                return null;
            }
            var engine = new EmotionEngine(chosen, Default.VadModel, Default.Options, Default.Metrics);
            _engines.Add(engine);
            _built.Add(engine);
            return engine;
        }
    }

    /// <summary>Disposes the engines built here for other model sets (the given ones belong to the caller).</summary>
    public async ValueTask DisposeAsync()
    {
        EmotionEngine[] built;
        lock (_gate)
        {
            built = [.. _built];
            _built.Clear();
        }
        foreach (var engine in built)
        {
            await engine.DisposeAsync();
        }
    }
}
