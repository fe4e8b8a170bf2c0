using System.CommandLine;
using System.Globalization;
using RealtimeSer.Core;

namespace RealtimeSer.Cli.Commands;

/// <summary>What the bench commands that write results share: where they write, what they replay, lists of numbers.</summary>
internal static class BenchOptions
{
    private const string DefaultRecording = "fixtures/calls/call01_stereo16k.wav";

    /// <summary><c>--out</c>; <paramref name="results"/> says which files the command writes there.</summary>
    public static Option<string> Out(string results) =>
        new("--out", "-o")
        {
            Description = $"Folder for the {results} results.",
            DefaultValueFactory = _ =>
                Path.Combine(ModelLocator.RepositoryRoots().FirstOrDefault() ?? ".", ".cache", "bench"),
        };

    public static Argument<string[]> Recordings() =>
        new("recording")
        {
            Arity = ArgumentArity.ZeroOrMore,
            Description = $"Recordings (default: ../shared/data/{DefaultRecording}).",
        };

    /// <summary>The recordings given, else the shared call fixture next to the repository.</summary>
    public static IReadOnlyList<string> Recordings(string[]? given)
    {
        if (given is { Length: > 0 })
        {
            return given;
        }
        var fixture = ModelLocator
            .RepositoryRoots()
            .Select(r => Path.GetFullPath(Path.Combine(r, "..", "shared", "data", DefaultRecording)))
            .FirstOrDefault(File.Exists);
        return fixture is null
            ? throw new FileNotFoundException(
                $"give one or more recordings (the default fixture ../shared/data/{DefaultRecording} is not on this machine)"
            )
            : [fixture];
    }

    /// <summary>A comma-separated list of numbers, e.g. <c>1,2,4</c>.</summary>
    public static IReadOnlyList<double> Numbers(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => double.Parse(s, CultureInfo.InvariantCulture))
            .ToList();

    /// <summary>A comma-separated list of whole numbers (fractions are cut).</summary>
    public static IReadOnlyList<int> Integers(string list) => [.. Numbers(list).Select(d => (int)d)];

    /// <summary>
    /// Refuses, while parsing, anything but a comma-separated list of numbers of at least <paramref name="minimum"/>
    /// (whole ones where <paramref name="whole"/>), with an example of one.
    /// </summary>
    public static Option<string> NumberList(
        this Option<string> option,
        double minimum,
        bool whole,
        string example
    )
    {
        option.Validators.Add(result =>
        {
            var text = result.GetValueOrDefault<string>() ?? "";
            var items = text.Split(
                ',',
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries
            );
            var bad =
                items.Length == 0
                || items.Any(item =>
                    !double.TryParse(item, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                    || !double.IsFinite(value)
                    || value < minimum
                    || (whole && value != Math.Floor(value))
                );
            if (bad)
            {
                result.AddError(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"{result.Option.Name} takes comma-separated {(whole ? "whole numbers" : "numbers")} of at least {minimum}, e.g. {example}; got '{text}'."
                    )
                );
            }
        });
        return option;
    }
}
