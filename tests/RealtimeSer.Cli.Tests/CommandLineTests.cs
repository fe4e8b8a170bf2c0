using System.CommandLine;

namespace RealtimeSer.Cli.Tests;

/// <summary>
/// Mistakes on the command line are refused before a command runs, each with what to type instead: a
/// mistyped option (never taken for a file), a <c>--server</c> address without its scheme, an output folder that
/// is a file.
/// </summary>
public class CommandLineTests
{
    /// <summary>Every command that runs something, as its words ("bench", "live").</summary>
    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string>();
        foreach (var path in Leaves(Program.CreateRoot(), []))
        {
            data.Add(string.Join(' ', path));
        }
        return data;
    }

    private static IEnumerable<string[]> Leaves(Command command, string[] path)
    {
        if (command.Subcommands.Count == 0)
        {
            yield return path;
            yield break;
        }
        foreach (var sub in command.Subcommands)
        {
            foreach (var leaf in Leaves(sub, [.. path, sub.Name]))
            {
                yield return leaf;
            }
        }
    }

    private static Command Find(string words)
    {
        Command command = Program.CreateRoot();
        foreach (var word in words.Split(' '))
        {
            command = command.Subcommands.Single(c => c.Name == word);
        }
        return command;
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Every_command_rejects_an_unknown_option_with_a_suggestion(string words)
    {
        var command = Find(words);
        // The command's longest option with one letter dropped: a typo one edit away.
        var option = command
            .Options.Select(o => o.Name)
            .Where(n => n.StartsWith("--", StringComparison.Ordinal) && n != "--help")
            .DefaultIfEmpty("--help")
            .OrderByDescending(n => n.Length)
            .ThenBy(n => n, StringComparer.Ordinal)
            .First();
        var typo = option.Remove(option.Length - 2, 1);
        List<string> args = [.. words.Split(' ')];
        // What the command requires, so that only the typo is wrong; the typo goes last, where a command
        // that takes files used to take it for one.
        foreach (var argument in command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0))
        {
            args.Add(Path.Combine(Path.GetTempPath(), "ser-no-such-input.wav"));
        }
        foreach (var required in command.Options.Where(o => o.Required))
        {
            args.AddRange([required.Name, Path.Combine(Path.GetTempPath(), "ser-no-such-dir")]);
        }
        args.Add(typo);

        var (exit, stdout, stderr) = await CliRunner.RunAsync([.. args]);

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.StartsWith(
            $"ser {words}: unknown option '{typo}'. Did you mean '{option}'",
            stderr,
            StringComparison.Ordinal
        );
        Assert.Contains($"'ser {words} --help' lists the options", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ser: model", stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_mistyped_option_after_a_file_is_refused_before_the_file_is_analysed()
    {
        var clip = CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");

        var (exit, stdout, stderr) = await CliRunner.RunAsync("vad", clip, "--treshold", "0.6");

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.StartsWith(
            "ser vad: unknown option '--treshold'. Did you mean '--threshold'?",
            stderr,
            StringComparison.Ordinal
        );
    }

    [Fact]
    public async Task After_a_double_dash_a_name_that_starts_with_a_dash_is_a_file()
    {
        var (exit, stdout, stderr) = await CliRunner.RunAsync("vad", "--", "--no-such-file.wav");

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("--no-such-file.wav: no such file or directory", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown option", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_shortened_option_suggests_the_whole_name()
    {
        var (exit, _, stderr) = await CliRunner.RunAsync("replay", "x.wav", "--out", "o", "--finals");

        Assert.Equal(1, exit);
        Assert.StartsWith(
            "ser replay: unknown option '--finals'. Did you mean '--finals-only'?",
            stderr,
            StringComparison.Ordinal
        );
    }

    /// <summary>Every command with an output folder (<c>--out</c>), as its words.</summary>
    public static TheoryData<string> CommandsWithOutputFolders()
    {
        var data = new TheoryData<string>();
        foreach (var path in Leaves(Program.CreateRoot(), []))
        {
            var words = string.Join(' ', path);
            if (Find(words).Options.Any(o => o.Name == "--out"))
            {
                data.Add(words);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CommandsWithOutputFolders))]
    public async Task An_output_folder_that_is_a_file_is_refused_before_the_command_runs(string words)
    {
        var file = Path.Combine(Path.GetTempPath(), $"ser-out-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, "not a folder");
        try
        {
            var (exit, stdout, stderr) = await CliRunner.RunAsync([
                .. words.Split(' '),
                "x.wav",
                "--out",
                file,
            ]);

            Assert.Equal(1, exit);
            Assert.Empty(stdout);
            Assert.Contains(
                $"ser {words}: --out {file} is a file: give a directory for the outputs",
                stderr,
                StringComparison.Ordinal
            );
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
            Assert.Equal("not a folder", await File.ReadAllTextAsync(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("classify x.wav --threads -3", "--threads must be at least 0 (0: one per core); got -3.")]
    [InlineData("bench pipeline --hours -1", "--hours must be at least 0 (0: once); got -1.")]
    [InlineData("bench pipeline --copies 0", "--copies must be at least 1; got 0.")]
    [InlineData("bench pipeline --passes -2", "--passes must be at least 0 (0: the default); got -2.")]
    [InlineData("bench live --streams 0", "--streams must be at least 1; got 0.")]
    [InlineData(
        "bench model --batches 1,abc",
        "--batches takes comma-separated whole numbers of at least 1, e.g. 1,8,64; got '1,abc'."
    )]
    [InlineData("bench model --windows 2,0", "--windows takes comma-separated numbers of at least 0.1")]
    [InlineData(
        "bench live --vad-max-batch 0,-64",
        "--vad-max-batch takes comma-separated whole numbers of at least 0"
    )]
    public async Task A_count_out_of_its_range_is_refused_before_the_command_runs(string line, string message)
    {
        var (exit, _, stderr) = await CliRunner.RunAsync(line.Split(' '));

        Assert.Equal(1, exit);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        // Refused while parsing: no model was loaded, nothing measured.
        Assert.DoesNotContain("ser: model", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("stream x.wav --server localhost:50791", "localhost:50791")]
    [InlineData("replay x.wav --out o --server localhost:50791", "localhost:50791")]
    [InlineData("listen --server 127.0.0.1:50791", "127.0.0.1:50791")]
    [InlineData("bench live --server localhost:50791", "localhost:50791")]
    public async Task A_server_address_without_its_scheme_is_refused_with_the_address_it_should_be(
        string line,
        string address
    )
    {
        var (exit, stdout, stderr) = await CliRunner.RunAsync(line.Split(' '));

        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains(
            $"--server {address}: give the scheme: http://{address} (cleartext HTTP/2) or https://{address} (TLS)",
            stderr,
            StringComparison.Ordinal
        );
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--treshold", "--threshold")]
    [InlineData("--jsn", "--json")]
    [InlineData("--fnials-only", "--finals-only")]
    [InlineData("--out=x", "--out")]
    public void Suggestions_are_a_few_edits_away_or_start_alike(string typed, string expected) =>
        Assert.Equal(
            expected,
            CommandLineChecks
                .Suggest(typed, ["--threshold", "--json", "--finals-only", "--out", "--mix", "-o"])
                .First()
        );

    [Fact]
    public void A_token_like_nothing_gets_no_suggestion() =>
        Assert.Empty(CommandLineChecks.Suggest("--zzzzzzzz", ["--threshold", "--json", "--out"]));
}
