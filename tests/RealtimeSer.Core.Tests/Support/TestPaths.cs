using RealtimeSer.Core;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Core.Tests.Support;

/// <summary>Locates the repository and ../shared/data; tests that need the data skip when it is absent.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } =
        ModelLocator.RepositoryRoots().FirstOrDefault()
        ?? throw new InvalidOperationException("Tests must run from a RealtimeSer checkout.");

    /// <summary>The models shipped in the repository: each folder of models/ with a manifest.json.</summary>
    public static List<string> ShippedModelIds() =>
        Directory
            .GetDirectories(Path.Combine(RepoRoot, "models"))
            .Where(d => File.Exists(Path.Combine(d, ModelManifestLoader.ManifestFile)))
            .Select(d => Path.GetFileName(d)!)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>A model shipped in the repository's models/ folder, whatever is installed elsewhere.</summary>
    public static ModelManifest ShippedModel(string id) =>
        ModelManifestLoader.Load(Path.Combine(RepoRoot, "models", id));

    public static string SharedData => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    /// <summary>The path of a file under ../shared/data, or a skip when the data is not on this machine.</summary>
    public static string RequireShared(string relative)
    {
        var path = Path.Combine(SharedData, relative);
        Skip.IfNot(File.Exists(path), $"needs {path} (../shared/data is not on this machine)");
        return path;
    }

    public static string RequireVadModel()
    {
        try
        {
            return ModelLocator.SileroVad();
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"Silero VAD model missing: {e.Message}");
        }
    }
}
