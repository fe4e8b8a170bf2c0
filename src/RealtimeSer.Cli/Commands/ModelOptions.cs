using System.CommandLine;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Vad;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary>The <c>--model</c> and <c>--threads</c> options every model-using command shares.</summary>
internal sealed class ModelOptions
{
    public Option<string?> Model { get; } =
        new("--model", "-m")
        {
            Description =
                "Model id (see `ser models`) or path; default: the installed default model. Commands that run "
                + "a stream take several, comma-separated, run on the same windows (e.g. general6,arousal3a).",
        };

    public Option<int> Threads { get; } =
        new Option<int>("--threads")
        {
            Description = "ONNX Runtime intra-op threads (0: one per core).",
            DefaultValueFactory = _ => 0,
        }.AtLeast(0, " (0: one per core)");

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Threads);
    }

    /// <summary>The ids or paths given to --model (empty: the default model).</summary>
    public IReadOnlyList<string> Ids(ParseResult parse) => Split(parse.GetValue(Model));

    internal static IReadOnlyList<string> Split(string? value) =>
        value is null
            ? []
            : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public OnnxEmotionClassifier Load(ParseResult parse, bool announce = true) =>
        Load(parse, ExecutionProviderKind.Auto, announce);

    public OnnxEmotionClassifier Load(ParseResult parse, ExecutionProviderKind provider, bool announce = true)
    {
        var ids = Ids(parse);
        if (ids.Count > 1)
        {
            throw new ArgumentException(
                $"--model: this command runs one model, got {ids.Count} ({string.Join(", ", ids)}); "
                    + "give one id (`ser replay`, `ser listen`, `ser serve` and `ser bench pipeline` take several)."
            );
        }
        return Load(parse, ids.Count == 1 ? ids[0] : null, provider, announce);
    }

    /// <summary>Every model given to --model (comma-separated), in order; the first leads each event.</summary>
    public LoadedModels LoadAll(ParseResult parse, bool announce = true)
    {
        var ids = Ids(parse);
        return ids.Count == 0
            ? new LoadedModels([Load(parse, null, ExecutionProviderKind.Auto, announce)])
            : LoadedModels.Load(ids, id => Load(parse, id, ExecutionProviderKind.Auto, announce));
    }

    /// <summary>
    /// <see cref="LoadAll"/> and Silero side by side: creating their sessions is most of what a replay of one
    /// short file costs. A failure disposes whatever did load, then surfaces (the models' first).
    /// </summary>
    public async Task<(LoadedModels Models, SileroVadModel Vad)> LoadAllWithVadAsync(
        ParseResult parse,
        bool announce,
        CancellationToken ct
    )
    {
        var models = Task.Run(() => LoadAll(parse, announce), ct);
        var vad = Task.Run(() => SileroVadModel.Load(), ct);
        try
        {
            await Task.WhenAll(models, vad);
        }
        catch
        {
            if (models.IsCompletedSuccessfully)
            {
                models.Result.Dispose();
            }
            if (vad.IsCompletedSuccessfully)
            {
                vad.Result.Dispose();
            }
            throw;
        }
        return (models.Result, vad.Result);
    }

    private OnnxEmotionClassifier Load(
        ParseResult parse,
        string? id,
        ExecutionProviderKind provider,
        bool announce
    )
    {
        var manifest = ModelCatalog.Resolve(id);
        var threads = parse.GetValue(Threads);
        var classifier = OnnxEmotionClassifier.Load(
            manifest,
            new OnnxSessionOptions
            {
                IntraOpThreads = threads > 0 ? threads : Environment.ProcessorCount,
                Provider = provider,
            }
        );
        if (announce)
        {
            Console.Error.WriteLine(
                $"ser: {ExecutionNotes.ModelLine(manifest.Id, classifier, threads > 0 ? threads : Environment.ProcessorCount)}"
            );
        }
        return classifier;
    }
}

/// <summary>The classifiers a command loaded, disposed together.</summary>
internal sealed class LoadedModels(IReadOnlyList<OnnxEmotionClassifier> classifiers) : IDisposable
{
    public IReadOnlyList<OnnxEmotionClassifier> Classifiers { get; } = classifiers;

    public OnnxEmotionClassifier First => Classifiers[0];

    /// <summary>
    /// Loads each id once, in order, with <paramref name="load"/>; a repeated id is refused before anything
    /// loads, and a failure disposes what was already loaded.
    /// </summary>
    public static LoadedModels Load(IReadOnlyList<string> ids, Func<string, OnnxEmotionClassifier> load)
    {
        var duplicate = ids.GroupBy(i => i, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"--model lists '{duplicate.Key}' twice; list each model once.");
        }
        var loaded = new List<OnnxEmotionClassifier>(ids.Count);
        try
        {
            foreach (var id in ids)
            {
                loaded.Add(load(id));
            }
            return new LoadedModels(loaded);
        }
        catch
        {
            foreach (var c in loaded)
            {
                c.Dispose();
            }
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var c in Classifiers)
        {
            c.Dispose();
        }
    }
}
