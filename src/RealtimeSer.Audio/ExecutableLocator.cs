namespace RealtimeSer.Audio;

/// <summary>Finds external tools (ffmpeg, ffprobe) on PATH without starting a process.</summary>
internal static class ExecutableLocator
{
    public static string? Find(string name)
    {
        string? pathVariable = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(pathVariable))
        {
            return null;
        }

        string[] names = OperatingSystem.IsWindows() ? [name + ".exe", name] : [name];
        foreach (
            string directory in pathVariable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        )
        {
            foreach (string candidate in names)
            {
                string full = Path.Combine(directory.Trim('"'), candidate);
                if (File.Exists(full))
                {
                    return full;
                }
            }
        }

        return null;
    }

    /// <summary>ffprobe ships beside ffmpeg; prefer that copy so an explicit ffmpeg path brings its own probe.</summary>
    public static string? FindSibling(string executable, string siblingName)
    {
        string? directory = Path.GetDirectoryName(executable);
        if (!string.IsNullOrEmpty(directory))
        {
            string candidate = Path.Combine(
                directory,
                siblingName
                    + (
                        OperatingSystem.IsWindows()
                        && executable.EndsWith(".exe", StringComparison.OrdinalIgnoreCase)
                            ? ".exe"
                            : ""
                    )
            );
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return Find(siblingName);
    }
}
