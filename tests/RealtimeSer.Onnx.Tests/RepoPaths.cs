namespace RealtimeSer.Onnx.Tests;

internal static class RepoPaths
{
    /// <summary>The checkout root (the directory holding RealtimeSer.sln), or null when run outside one.</summary>
    public static string? Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RealtimeSer.sln")))
            {
                return dir.FullName;
            }
        }
        return null;
    }

    public static string? SileroModel()
    {
        var root = Root();
        return root is null ? null : Path.Combine(root, ".cache", "native", "models", "silero_vad_v5.onnx");
    }
}
