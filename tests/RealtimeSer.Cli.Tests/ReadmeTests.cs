using System.CommandLine;
using System.Text.Json;
using System.Text.RegularExpressions;
using RealtimeSer.Cli.Tests.Remote;
using RealtimeSer.Core;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Cli.Tests;

/// <summary>
/// The README's command examples, run on the fixtures: each test reads what the README says (an option, a
/// JSON sample, a message, a figure) and checks that <c>ser</c> does it, so that the README cannot drift
/// from behaviour unnoticed. A fast subset: one clip, tiny benchmarks.
/// </summary>
public sealed partial class ReadmeTests : IDisposable
{
    private static readonly string Readme = File.ReadAllText(
        Path.Combine(ModelLocator.RepositoryRoots().First(), "README.md")
    );

    private readonly string _dir = Directory.CreateTempSubdirectory("ser-readme-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Clip => CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");

    private static void RequireModel() =>
        Skip.If(
            ModelCatalog.List().Count == 0,
            "no emotion model installed (the default is models/general6)"
        );

    /// <summary>The rows of the README's Commands table, with their escaped pipes (<c>\|</c>) as plain ones.</summary>
    private static List<string> CommandRows()
    {
        var table = Readme[Readme.IndexOf("## Commands", StringComparison.Ordinal)..];
        return table
            .Split('\n')
            .SkipWhile(l => !l.StartsWith("| ---", StringComparison.Ordinal))
            .Skip(1)
            .TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Replace("\\|", "|", StringComparison.Ordinal))
            .ToList();
    }

    private static string Row(string firstCell) =>
        Assert.Single(CommandRows(), r => r.StartsWith($"| `{firstCell}", StringComparison.Ordinal));

    /// <summary>The first code span of <paramref name="text"/> that starts with <paramref name="start"/>.</summary>
    private static string Span(string text, string start)
    {
        var match = CodeSpan()
            .Matches(text)
            .Select(m => m.Groups["code"].Value)
            .FirstOrDefault(c => c.StartsWith(start, StringComparison.Ordinal));
        Assert.True(match is not null, $"the README shows no `{start}...`");
        return Regex.Replace(match!, @"\s+", " ");
    }

    /// <summary>The field names of a JSON sample as the README writes it (<c>{"file","label",...}</c>).</summary>
    private static List<string> Fields(string sample) =>
        [.. Regex.Matches(sample, "\"(\\w+)\"").Select(m => m.Groups[1].Value)];

    private static List<string> Keys(string jsonLine) =>
        [.. JsonDocument.Parse(jsonLine).RootElement.EnumerateObject().Select(p => p.Name)];

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [GeneratedRegex(@"(``?)(?<code>[^`].*?)\1(?!`)", RegexOptions.Singleline)]
    private static partial Regex CodeSpan();

    [Fact]
    public void Every_option_the_commands_table_names_exists_on_its_command()
    {
        var root = Program.CreateRoot();
        var rows = CommandRows();
        Assert.True(rows.Count >= 10, $"{rows.Count} rows in the Commands table");
        foreach (var row in rows)
        {
            List<Command> commands = [];
            if (Regex.Match(row, @"^\| `\./ser (?<cmd>[a-z]+)(?: (?<subs>[a-z|]+))?") is { Success: true } m)
            {
                var command = root.Subcommands.Single(c => c.Name == m.Groups["cmd"].Value);
                commands.AddRange(
                    m.Groups["subs"].Success && command.Subcommands.Count > 0
                        ? m.Groups["subs"]
                            .Value.Split('|')
                            .Select(s => command.Subcommands.Single(c => c.Name == s))
                        : [command]
                );
            }
            else if (
                Regex.Match(row, @"^\| `--[a-z-]+[^`]*` \((?<list>[a-z ,]+)\)") is { Success: true } shared
            )
            {
                // "--model a,b (replay, listen, serve, stream, bench pipeline)"
                foreach (var words in shared.Groups["list"].Value.Split(", "))
                {
                    Command command = root;
                    foreach (var word in words.Split(' '))
                    {
                        command = command.Subcommands.Single(c => c.Name == word);
                    }
                    commands.Add(command);
                }
            }
            Assert.True(
                commands.Count > 0,
                $"no command found for the row {row[..Math.Min(60, row.Length)]}"
            );
            foreach (Match flag in Regex.Matches(row, @"(?<![\w-])--[a-z][a-z0-9-]*"))
            {
                Assert.True(
                    flag.Value == "--help"
                        || commands.Any(c =>
                            c.Options.Any(o => o.Name == flag.Value || o.Aliases.Contains(flag.Value))
                        ),
                    $"the README names {flag.Value} for {string.Join(", ", commands.Select(c => c.Name))}, which has no such option"
                );
            }
        }
    }

    [SkippableFact]
    public async Task Vad_prints_the_README_sample_and_names_the_file_for_a_directory()
    {
        var row = Row("./ser vad ");
        var fields = Fields(Span(row, "{\"channel\""));
        Assert.Contains("each line also has `\"file\"`", row, StringComparison.Ordinal);

        var (exit, stdout, stderr) = await CliRunner.RunAsync("vad", Clip);
        Assert.True(exit == 0, stderr);
        Assert.All(Lines(stdout), l => Assert.Equal(fields, Keys(l)));

        File.Copy(Clip, Path.Combine(_dir, "a.wav"));
        (exit, stdout, stderr) = await CliRunner.RunAsync("vad", _dir);
        Assert.True(exit == 0, stderr);
        Assert.All(Lines(stdout), l => Assert.Equal(["file", .. fields], Keys(l)));
    }

    [SkippableFact]
    public async Task Classify_json_prints_the_README_sample()
    {
        RequireModel();
        var fields = Fields(Span(Row("./ser classify "), "{\"file\""));

        var (exit, stdout, stderr) = await CliRunner.RunAsync("classify", Clip, "--json");

        Assert.True(exit == 0, stderr);
        Assert.Equal(fields, Keys(Assert.Single(Lines(stdout))));
    }

    [SkippableFact]
    public async Task Replay_writes_the_README_schema_its_summary_and_lists_output_names()
    {
        RequireModel();
        var row = Row("./ser replay INPUT");
        var fields = Fields(Span(row, "{\"file\""));
        var output = Path.Combine(_dir, "out");

        var (exit, _, stderr) = await CliRunner.RunAsync(
            "replay",
            Clip,
            "--out",
            output,
            "--channels",
            "caller",
            "-q"
        );

        Assert.True(exit == 0, stderr);
        var events = Lines(File.ReadAllText(Path.Combine(output, "1004_TSI_ANG_XX.jsonl")));
        Assert.NotEmpty(events);
        Assert.All(events, l => Assert.Empty(fields.Except(Keys(l))));
        // The summary: speech time and label shares per channel, and the settings it was made with.
        Assert.Contains("`\"settings\"`", row, StringComparison.Ordinal);
        using var summary = JsonDocument.Parse(
            File.ReadAllText(Path.Combine(output, "1004_TSI_ANG_XX.summary.json"))
        );
        var channel = summary.RootElement.GetProperty("channels")[0];
        Assert.True(channel.GetProperty("speech_s").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Object, channel.GetProperty("label_share").ValueKind);
        Assert.Equal(JsonValueKind.Object, summary.RootElement.GetProperty("settings").ValueKind);

        // "--finals-only keeps only each segment's final event"
        Assert.Contains(
            "`--finals-only` keeps only each segment's final event",
            row,
            StringComparison.Ordinal
        );
        (exit, _, stderr) = await CliRunner.RunAsync("replay", Clip, "--out", output, "--finals-only", "-q");
        Assert.True(exit == 0, stderr);
        Assert.All(
            Lines(File.ReadAllText(Path.Combine(output, "1004_TSI_ANG_XX.jsonl"))),
            l => Assert.True(JsonDocument.Parse(l).RootElement.GetProperty("final").GetBoolean())
        );

        // "--list prints the output names of a shard's inputs, one per line"
        Assert.Contains(
            "`--list` prints the output names of a shard's inputs, one per line",
            Row("./ser replay ... --shard"),
            StringComparison.Ordinal
        );
        File.Copy(Clip, Path.Combine(_dir, "a.wav"));
        var list = await CliRunner.RunAsync("replay", Clip, _dir, "--out", output, "--list");
        Assert.True(list.Exit == 0, list.Err);
        Assert.Equal(["1004_TSI_ANG_XX", "a"], Lines(list.Out).Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public async Task Stream_json_is_the_replay_schema_file_included()
    {
        RequireModel();
        var row = Row("./ser stream ");
        Assert.Contains(
            "(`--json`: the `ser replay` schema, `\"file\"` included)",
            row,
            StringComparison.Ordinal
        );
        var clip = Clip;
        var output = Path.Combine(_dir, "out");
        var replay = await CliRunner.RunAsync("replay", clip, "--out", output, "-q");
        Assert.True(replay.Exit == 0, replay.Err);
        // The fields of an interim and of a final event (a final adds its window counts).
        var replayKeys = Lines(File.ReadAllText(Path.Combine(output, "1004_TSI_ANG_XX.jsonl")))
            .GroupBy(l => JsonDocument.Parse(l).RootElement.GetProperty("final").GetBoolean())
            .ToDictionary(g => g.Key, g => Keys(g.First()));
        Assert.Equal(2, replayKeys.Count);
        await using var server = await RemoteServer.StartAsync();

        var (exit, stdout, stderr) = await CliRunner.RunAsync(
            "stream",
            clip,
            "--server",
            server.Url,
            "--fast",
            "--json"
        );

        Assert.True(exit == 0, stderr);
        Assert.NotEmpty(Lines(stdout));
        Assert.All(
            Lines(stdout),
            l =>
                Assert.Equal(
                    replayKeys[JsonDocument.Parse(l).RootElement.GetProperty("final").GetBoolean()],
                    Keys(l)
                )
        );
    }

    [SkippableFact]
    public async Task Info_prints_everything_the_README_lists()
    {
        RequireModel();
        var row = Row("./ser info");
        (string Promise, string Line)[] items =
        [
            ("ONNX Runtime version", "onnxruntime: "),
            ("and package", "package:     "),
            ("available execution providers", "providers:   "),
            ("whether CUDA loads", "cuda:        "),
            ("the Silero VAD model's path", "vad model:   "),
            ("whether Silero runs split", "vad graph:   split"),
            ("every installed emotion model with its path", "models:      "),
            ("the .NET runtime in use", "runtime:     "),
        ];

        var (exit, stdout, stderr) = await CliRunner.RunAsync("info");

        Assert.True(exit == 0, stderr);
        foreach (var (promise, line) in items)
        {
            Assert.Contains(promise, row, StringComparison.Ordinal);
            Assert.Contains(Lines(stdout), l => l.StartsWith(line, StringComparison.Ordinal));
        }
        Assert.All(ModelCatalog.List(), m => Assert.Contains(m.ModelPath, stdout, StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Each_bench_writes_the_results_the_README_says()
    {
        RequireModel();
        var row = Row("./ser bench ");
        var all = Regex.Match(
            row,
            @"`bench (\w+)` and `bench (\w+)` also write JSON, Markdown and SVG results"
        );
        var noSvg = Regex.Match(row, @"`bench (\w+)` JSON and Markdown");
        var none = Regex.Match(row, @"`bench (\w+)` only prints");
        Assert.True(
            all.Success && noSvg.Success && none.Success,
            "the README's list of bench results changed"
        );
        var expected = new Dictionary<string, string[]>
        {
            [all.Groups[1].Value] = [".json", ".md", ".svg"],
            [all.Groups[2].Value] = [".json", ".md", ".svg"],
            [noSvg.Groups[1].Value] = [".json", ".md"],
        };
        var tiny = new Dictionary<string, string[]>
        {
            ["model"] = ["--batches", "1", "--windows", "1", "--seconds", "0.2"],
            ["pipeline"] = [Clip, "--copies", "1"],
            ["live"] = [Clip, "--streams", "1", "--seconds", "1"],
        };
        foreach (var (bench, extensions) in expected)
        {
            var output = Path.Combine(_dir, bench);
            var (exit, stdout, stderr) = await CliRunner.RunAsync([
                "bench",
                bench,
                .. tiny[bench],
                "--out",
                output,
            ]);
            Assert.True(exit == 0, $"bench {bench}: {stderr}");
            Assert.NotEmpty(stdout);
            Assert.Equal(
                extensions,
                Directory.GetFiles(output).Select(Path.GetExtension).Order(StringComparer.Ordinal)
            );
        }
        var vad = Program
            .CreateRoot()
            .Subcommands.Single(c => c.Name == "bench")
            .Subcommands.Single(c => c.Name == none.Groups[1].Value);
        Assert.DoesNotContain(vad.Options, o => o.Name == "--out");
        var printed = await CliRunner.RunAsync("bench", "vad", Clip, "--seconds", "1", "--batches", "1");
        Assert.True(printed.Exit == 0, printed.Err);
        Assert.StartsWith("vad: ", printed.Out, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task The_default_models_CREMA_D_figure_is_the_one_ser_models_shows()
    {
        RequireModel();
        var id = ModelCatalog.DefaultModelId;
        var row = Assert.Single(
            Readme.Split('\n'),
            l => l.StartsWith($"| `{id}` (**default**)", StringComparison.Ordinal)
        );
        var claimed = double.Parse(
            Regex.Match(row, @"(\d+(?:\.\d+)?) % on CREMA-D's test speakers").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture
        );

        var (exit, stdout, stderr) = await CliRunner.RunAsync("models", "--json");

        Assert.True(exit == 0, stderr);
        var model = Lines(stdout)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Single(m => m.GetProperty("id").GetString() == id);
        var accuracy = model
            .GetProperty("metrics")
            .GetProperty("test_crema-d")
            .GetProperty("accuracy")
            .GetDouble();
        Assert.Equal(Math.Round(accuracy * 100, 2), claimed, 6);
        var text = await CliRunner.RunAsync("models");
        Assert.Contains(Span(row, "test_crema-d: accuracy "), text.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void No_doc_calls_an_option_that_exists_not_implemented()
    {
        var root = ModelLocator.RepositoryRoots().First();
        var options = AllOptions(Program.CreateRoot()).ToHashSet(StringComparer.Ordinal);
        foreach (
            var doc in Directory
                .GetFiles(Path.Combine(root, "docs"), "*.md")
                .Append(Path.Combine(root, "README.md"))
        )
        {
            var text = Regex.Replace(File.ReadAllText(doc), @"\s+", " ");
            foreach (
                Match m in Regex.Matches(
                    text,
                    @"`(?<option>--[a-z][a-z0-9-]*)[^`]*` is not (yet )?implemented"
                )
            )
            {
                Assert.False(
                    options.Contains(m.Groups["option"].Value),
                    $"{Path.GetFileName(doc)} says {m.Groups["option"].Value} is not implemented, but a command has it"
                );
            }
        }

        static IEnumerable<string> AllOptions(Command command) =>
            command
                .Options.SelectMany(o => o.Aliases.Append(o.Name))
                .Concat(command.Subcommands.SelectMany(AllOptions));
    }

    [Fact]
    public void The_metrics_doc_says_when_the_VAD_batch_series_appears()
    {
        var metrics = File.ReadAllText(
            Path.Combine(ModelLocator.RepositoryRoots().First(), "docs", "metrics.md")
        );
        var row = Assert.Single(
            metrics.Split('\n'),
            l => l.StartsWith("| `ser_vad_batch_size` |", StringComparison.Ordinal)
        );
        // ser serve runs per-channel VAD unless told otherwise; the series exists only with batched VAD.
        Assert.Contains("only with batched VAD (`--vad-max-batch N`", row, StringComparison.Ordinal);
        var serve = Program.CreateRoot().Subcommands.Single(c => c.Name == "serve");
        Assert.Contains(serve.Options, o => o.Name == "--vad-max-batch");
    }

    [Fact]
    public async Task The_command_line_messages_the_README_quotes_are_what_ser_prints()
    {
        var typo = Span(Readme, "ser vad: unknown option");
        var (exit, _, stderr) = await CliRunner.RunAsync(
            "vad",
            Path.Combine(_dir, "call.wav"),
            "--treshold",
            "0.6"
        );
        Assert.Equal(1, exit);
        Assert.StartsWith(typo, stderr, StringComparison.Ordinal);

        // The README's example names port 50051; nothing listens on port 1.
        var refused = Span(Readme, "ser: cannot connect to")
            .Replace(":50051", ":1", StringComparison.Ordinal);
        var recording = Path.Combine(_dir, "silence.wav");
        RemoteBenchLiveTests.WriteSilence(recording, seconds: 1);
        (exit, _, stderr) = await CliRunner.RunAsync("stream", recording, "--server", "http://127.0.0.1:1");
        Assert.Equal(1, exit);
        Assert.Equal(refused, stderr.Trim());
    }
}
