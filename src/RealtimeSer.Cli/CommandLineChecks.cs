using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using RealtimeSer.Grpc;

namespace RealtimeSer.Cli;

/// <summary>
/// Mistakes the parser lets through, caught before a command runs. A command that takes files takes any
/// token as a file name, so a mistyped option (<c>ser vad clip.wav --treshold 0.6</c>) would become a file
/// and fail only after the real files were processed; here it is refused with the options it may have
/// meant, as the parser already does for commands without file arguments. A <c>--server</c> address without
/// its scheme (<c>localhost:50051</c>) is refused with the address it should have been, and an output folder
/// (<c>--out</c>) that names a file with what to give instead.
/// </summary>
internal static class CommandLineChecks
{
    /// <summary>The problems of this command line, one line each (none: run it).</summary>
    public static IReadOnlyList<string> Problems(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var problems = new List<string>();
        if (parse.Tokens.Any(t => t.Type == TokenType.Option && IsHelp(t.Value)))
        {
            return problems;
        }
        var command = parse.CommandResult.Command;
        var name = CommandPath(parse.CommandResult);
        foreach (var token in OptionLikeTokens(parse))
        {
            var suggestions = Suggest(token, OptionNames(parse.CommandResult));
            problems.Add(
                $"{name}: unknown option '{token}'."
                    + (
                        suggestions.Count > 0
                            ? $" Did you mean {string.Join(" or ", suggestions.Select(s => $"'{s}'"))}?"
                            : ""
                    )
                    + $" ('{name} --help' lists the options"
                    + (
                        command.Arguments.Count > 0
                            ? "; put '--' before a file whose name starts with '-')"
                            : ")"
                    )
            );
        }
        foreach (var option in parse.CommandResult.Children.OfType<OptionResult>())
        {
            if (option.Implicit || option.Tokens.Count != 1)
            {
                continue;
            }
            var value = option.Tokens[0].Value;
            if (option.Option.Name == "--server" && SerChannel.AddressProblem(value) is { } problem)
            {
                problems.Add($"{name}: --server {value}: {problem}");
            }
            // Every --out is a folder (replay outputs, bench results); found taken by a file only at the end of a
            // run, a bench's minutes of measuring would be lost.
            if (option.Option.Name == "--out" && File.Exists(value))
            {
                problems.Add(
                    $"{name}: --out {value} is a file: give a directory for the outputs (it is made if missing)"
                );
            }
        }
        return problems;
    }

    /// <summary>Writes the problems and returns the exit code of a command line that cannot run.</summary>
    public static int Report(IReadOnlyList<string> problems, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(problems);
        ArgumentNullException.ThrowIfNull(error);
        foreach (var p in problems)
        {
            error.WriteLine(p);
        }
        return 1;
    }

    private static bool IsHelp(string token) => token is "--help" or "-h" or "-?" or "/?" or "/h";

    /// <summary>"ser replay", "ser bench live": as the user would type it.</summary>
    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                names.Add(c.Parent is null ? "ser" : c.Command.Name);
            }
        }
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>
    /// Tokens that look like options but are none: those the parser could not match, and those it handed to
    /// a file argument. A token after <c>--</c>, an existing file and a number are taken as they are.
    /// </summary>
    private static IEnumerable<string> OptionLikeTokens(ParseResult parse)
    {
        var doubleDash = -1;
        for (var i = 0; i < parse.Tokens.Count; i++)
        {
            if (parse.Tokens[i].Type == TokenType.DoubleDash)
            {
                doubleDash = i;
                break;
            }
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var token in parse.UnmatchedTokens)
        {
            if (LooksLikeOption(token) && seen.Add(token))
            {
                yield return token;
            }
        }
        foreach (var argument in parse.CommandResult.Children.OfType<ArgumentResult>())
        {
            foreach (var token in argument.Tokens)
            {
                var index = IndexOf(parse.Tokens, token);
                if (doubleDash >= 0 && (index < 0 || index > doubleDash))
                {
                    continue;
                }
                if (
                    LooksLikeOption(token.Value)
                    && !File.Exists(token.Value)
                    && !Directory.Exists(token.Value)
                    && seen.Add(token.Value)
                )
                {
                    yield return token.Value;
                }
            }
        }
    }

    private static int IndexOf(IReadOnlyList<Token> tokens, Token token)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            if (ReferenceEquals(tokens[i], token))
            {
                return i;
            }
        }
        return -1;
    }

    private static bool LooksLikeOption(string token) =>
        token.Length > 1
        && token[0] == '-'
        && !double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>Every option name and alias valid here: the command's own and those its parents pass down.</summary>
    private static List<string> OptionNames(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is not CommandResult c)
            {
                continue;
            }
            foreach (var option in c.Command.Options)
            {
                if (ReferenceEquals(c, result) || option.Recursive)
                {
                    names.Add(option.Name);
                    names.AddRange(option.Aliases);
                }
            }
        }
        return names.Where(n => n.StartsWith('-')).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The options closest to <paramref name="token"/>: a few edits away (typos, a dropped letter) or
    /// starting with it (a shortened name), nearest first.
    /// </summary>
    internal static IReadOnlyList<string> Suggest(string token, IEnumerable<string> options)
    {
        var typed = token.Split('=', 2)[0];
        var bare = typed.TrimStart('-');
        if (bare.Length < 2)
        {
            return [];
        }
        return options
            .Select(o => (Option: o, Distance: Distance(bare, o.TrimStart('-'))))
            .Where(p =>
                p.Distance <= Math.Max(1, bare.Length / 3)
                || (bare.Length >= 3 && p.Option.TrimStart('-').StartsWith(bare, StringComparison.Ordinal))
            )
            .OrderBy(p => p.Distance)
            .ThenBy(p => p.Option, StringComparer.Ordinal)
            .Select(p => p.Option)
            .Take(3)
            .ToList();
    }

    /// <summary>Edits (insert, delete, substitute, swap two neighbours) from one name to the other.</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }
}
