namespace RealtimeSer.Core;

/// <summary>
/// Finds model files: an explicit environment variable first, then the application folder (where the
/// build copies what tools/bootstrap fetched), then the repository's caches when run from a clone.
/// </summary>
public static class ModelLocator
{
    public const string VadModelVariable = "REALTIMESER_VAD_MODEL";
    public const string RootVariable = "REALTIMESER_ROOT";

    public static string SileroVad()
    {
        var fromEnv = Environment.GetEnvironmentVariable(VadModelVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return File.Exists(fromEnv)
                ? fromEnv
                : throw new FileNotFoundException(
                    $"{VadModelVariable}={fromEnv} does not exist. Point it at silero_vad_v5.onnx or unset it.",
                    fromEnv
                );
        }
        string[] candidates =
        [
            Path.Combine(AppContext.BaseDirectory, "models", "silero_vad_v5.onnx"),
            .. RepositoryRoots()
                .Select(r => Path.Combine(r, ".cache", "native", "models", "silero_vad_v5.onnx")),
        ];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                "Silero VAD model (silero_vad_v5.onnx) not found; looked in: "
                    + string.Join(", ", candidates)
                    + $". Run tools/bootstrap, or set {VadModelVariable}=/path/to/silero_vad_v5.onnx."
            );
    }

    /// <summary>The repository root from REALTIMESER_ROOT, or found by walking up to RealtimeSer.sln.</summary>
    public static IEnumerable<string> RepositoryRoots()
    {
        var fromEnv = Environment.GetEnvironmentVariable(RootVariable);
        if (!string.IsNullOrEmpty(fromEnv) && Directory.Exists(fromEnv))
        {
            yield return fromEnv;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RealtimeSer.sln")))
            {
                yield return dir.FullName;
                yield break;
            }
        }
    }
}
