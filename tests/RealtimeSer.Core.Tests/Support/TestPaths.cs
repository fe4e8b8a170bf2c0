using RealtimeSer.Core;

namespace RealtimeSer.Core.Tests.Support;

/// <summary>Locates the repository and ../shared/data; tests that need the data skip when it is absent.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } =
        ModelLocator.RepositoryRoots().FirstOrDefault()
        ?? throw new InvalidOperationException("Tests must run from a RealtimeSer checkout.");

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
