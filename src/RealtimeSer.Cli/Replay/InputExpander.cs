using System.Text.RegularExpressions;

namespace RealtimeSer.Cli.Replay;

/// <summary>One recording to replay, and the name its outputs take (relative to the input it came from).</summary>
internal sealed record ReplayInput(string Path, string OutputName);

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

    public static List<ReplayInput> Expand(IEnumerable<string> arguments, List<string> problems)
    {
        var inputs = new List<ReplayInput>();
        foreach (var argument in arguments)
        {
            if (File.Exists(argument))
            {
                inputs.Add(new ReplayInput(Path.GetFullPath(argument), Stem(Path.GetFileName(argument))));
            }
            else if (Directory.Exists(argument))
            {
                AddTree(
                    Path.GetFullPath(argument),
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
                AddTree(Path.GetFullPath(root), matches, inputs);
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

    private static void AddTree(string root, IEnumerable<string> files, List<ReplayInput> inputs)
    {
        foreach (var file in files.Where(IsAudio).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, file);
            inputs.Add(new ReplayInput(Path.GetFullPath(file), Stem(relative)));
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
