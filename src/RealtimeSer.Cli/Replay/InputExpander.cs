using System.Text.RegularExpressions;

namespace RealtimeSer.Cli.Replay;

/// <summary>
/// One recording to replay, the name its outputs take (relative to the input it came from), and how to show
/// it to the user (the argument as typed, or the directory or glob root as typed joined with the file).
/// </summary>
internal sealed record ReplayInput(string Path, string OutputName, string? Shown = null)
{
    public string Display => Shown ?? Path;
}

/// <summary>Expands files, directories (recursive) and globs (<c>*</c>, <c>?</c>, <c>**</c>) into recordings.</summary>
internal static class InputExpander
{
    public static readonly string[] AudioExtensions =
    [
        ".wav",
        ".wave",
        ".mp3",
        ".opus",
        ".ogg",
        ".oga",
        ".flac",
        ".m4a",
        ".aac",
        ".wma",
        ".webm",
        ".mka",
        ".au",
    ];

    /// <summary>
    /// Replay's inputs: every recording once, and a problem for two recordings whose outputs would collide.
    /// </summary>
    public static List<ReplayInput> Expand(IEnumerable<string> arguments, List<string> problems)
    {
        var inputs = ExpandFiles(arguments, problems);
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            if (!seen.TryAdd(input.OutputName, input.Path) && seen[input.OutputName] != input.Path)
            {
                problems.Add(
                    $"{input.Path} and {seen[input.OutputName]} would both write '{input.OutputName}'; replay them in separate runs or rename one"
                );
            }
        }
        return inputs.DistinctBy(i => i.Path).ToList();
    }

    /// <summary>
    /// The audio files the arguments name, in argument order (each directory or glob sorted), repeats kept:
    /// what a command that writes nothing per file (<c>ser classify</c>) needs. Arguments that name nothing
    /// become problems.
    /// </summary>
    public static List<ReplayInput> ExpandFiles(IEnumerable<string> arguments, List<string> problems)
    {
        var inputs = new List<ReplayInput>();
        foreach (var argument in arguments)
        {
            if (File.Exists(argument))
            {
                inputs.Add(
                    new ReplayInput(Path.GetFullPath(argument), Stem(Path.GetFileName(argument)), argument)
                );
            }
            else if (Directory.Exists(argument))
            {
                AddTree(
                    argument,
                    Directory.EnumerateFiles(argument, "*", SearchOption.AllDirectories),
                    inputs
                );
            }
            else if (argument.IndexOfAny(['*', '?']) >= 0)
            {
                var (root, regex) = Glob(argument);
                var matches = Directory.Exists(root)
                    ? Directory
                        .EnumerateFiles(root, "*", SearchOption.AllDirectories)
                        .Where(f => regex.IsMatch(Path.GetRelativePath(root, f).Replace('\\', '/')))
                    : [];
                var before = inputs.Count;
                AddTree(root, matches, inputs);
                if (inputs.Count == before)
                {
                    problems.Add($"{argument}: no audio file matches");
                }
            }
            else
            {
                problems.Add($"{argument}: no such file or directory");
            }
        }
        return inputs;
    }

    /// <summary>Adds the audio files under <paramref name="root"/> (as the user wrote it), sorted.</summary>
    private static void AddTree(string root, IEnumerable<string> files, List<ReplayInput> inputs)
    {
        var fullRoot = Path.GetFullPath(root);
        foreach (var file in files.Where(IsAudio).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(fullRoot, Path.GetFullPath(file));
            var shown = root == "." ? relative : Path.Join(root, relative);
            inputs.Add(new ReplayInput(Path.GetFullPath(file), Stem(relative), shown));
        }
    }

    private static bool IsAudio(string path) =>
        AudioExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    private static string Stem(string relative) =>
        Path.Combine(Path.GetDirectoryName(relative) ?? "", Path.GetFileNameWithoutExtension(relative));

    /// <summary>The fixed directory in front of the first wildcard, and a regex for the rest.</summary>
    internal static (string Root, Regex Pattern) Glob(string pattern)
    {
        var normalized = pattern.Replace('\\', '/');
        var firstWild = normalized.IndexOfAny(['*', '?']);
        var slash = normalized.LastIndexOf('/', firstWild);
        var root = slash < 0 ? "." : normalized[..Math.Max(1, slash)];
        var rest = slash < 0 ? normalized : normalized[(slash + 1)..];
        var regex =
            "^"
            + Regex
                .Escape(rest)
                .Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal)
                .Replace(@"\*\*", ".*", StringComparison.Ordinal)
                .Replace(@"\*", "[^/]*", StringComparison.Ordinal)
                .Replace(@"\?", "[^/]", StringComparison.Ordinal)
            + "$";
        return (root, new Regex(regex, RegexOptions.CultureInvariant));
    }
}
