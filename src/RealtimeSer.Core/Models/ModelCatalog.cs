namespace RealtimeSer.Core.Models;

/// <summary>
/// Installed emotion models: every directory under the model folders that holds a manifest.json (or a
/// converted Hugging Face export). Folders: REALTIMESER_MODELS, then the repository's models/, then
/// models/ beside the application.
/// </summary>
public static class ModelCatalog
{
    public const string ModelsVariable = "REALTIMESER_MODELS";
    public const string DefaultModelId = "general6";

    public static IReadOnlyList<string> Folders()
    {
        var folders = new List<string>();
        var fromEnv = Environment.GetEnvironmentVariable(ModelsVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            folders.AddRange(fromEnv.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }
        folders.AddRange(ModelLocator.RepositoryRoots().Select(r => Path.Combine(r, "models")));
        folders.Add(Path.Combine(AppContext.BaseDirectory, "models"));
        return folders.Where(Directory.Exists).Select(Path.GetFullPath).Distinct().ToList();
    }

    /// <summary>Every loadable model; a broken one is reported through <paramref name="onError"/>, not hidden.</summary>
    public static IReadOnlyList<ModelManifest> List(Action<string, Exception>? onError = null)
    {
        var found = new List<ModelManifest>();
        foreach (var folder in Folders())
        {
            foreach (var dir in Directory.GetDirectories(folder).Order(StringComparer.Ordinal))
            {
                if (
                    !File.Exists(Path.Combine(dir, ModelManifestLoader.ManifestFile))
                    && !File.Exists(Path.Combine(dir, "config.json"))
                )
                {
                    continue;
                }
                try
                {
                    var manifest = ModelManifestLoader.Load(dir);
                    if (found.All(m => m.Id != manifest.Id))
                    {
                        found.Add(manifest);
                    }
                }
                catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
                {
                    onError?.Invoke(dir, e);
                }
            }
        }
        return found;
    }

    /// <summary>
    /// A model by id (as <c>ser models</c> lists), by path (directory, manifest.json or model.onnx), or the
    /// default model when <paramref name="idOrPath"/> is null.
    /// </summary>
    public static ModelManifest Resolve(string? idOrPath)
    {
        if (idOrPath is not null && (Directory.Exists(idOrPath) || File.Exists(idOrPath)))
        {
            return ModelManifestLoader.Load(idOrPath);
        }
        var id = idOrPath ?? DefaultModelId;
        var models = List();
        var match =
            models.FirstOrDefault(m => m.Id == id) ?? (idOrPath is null ? models.FirstOrDefault() : null);
        if (match is not null)
        {
            return match;
        }
        var where = string.Join(", ", Folders().DefaultIfEmpty("(no model folder exists)"));
        throw new FileNotFoundException(
            models.Count == 0
                ? $"no emotion model{(idOrPath is null ? "" : $" '{idOrPath}'")} is installed (looked in: {where}). Train one with tools/model/train.sh, "
                    + "convert a Hugging Face checkpoint with tools/model/convert_hf.py, or pass --model PATH."
                : $"no model '{id}'; installed: {string.Join(", ", models.Select(m => m.Id))}. Pass --model with one of them or a path."
        );
    }
}
