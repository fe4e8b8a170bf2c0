using System.Text.Json;
using RealtimeSer.Cli.Replay;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Server;
using Xunit.Abstractions;

namespace RealtimeSer.Cli.Tests.Scaling;

/// <summary><c>ser replay --shard I/N</c> and <c>--server URL</c>: batch replay spread over workers or replicas.</summary>
public sealed class ShardedReplayTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ser-shard-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static ModelManifest RequireModel()
    {
        try
        {
            return ModelCatalog.Resolve(null);
        }
        catch (FileNotFoundException e)
        {
            throw new SkipException($"no emotion model installed: {e.Message}");
        }
    }

    private static string RequireClips()
    {
        var clips = Path.Combine(CliRunner.SharedData, "fixtures", "clips");
        Skip.IfNot(Directory.Exists(clips), $"needs {clips} (../shared/data is not on this machine)");
        return clips;
    }

    private static async Task<string[]> ListAsync(string input, params string[] extra)
    {
        var (exit, stdout, stderr) = await CliRunner.RunAsync([
            "replay",
            input,
            "--out",
            Path.Combine(Path.GetTempPath(), "unused"),
            "--list",
            .. extra,
        ]);
        Assert.True(exit == 0, stderr);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public async Task Shards_cover_every_input_exactly_once_whatever_the_order_of_the_arguments()
    {
        // Names only: --list never opens the files, so empty ones do.
        var dir = Path.Combine(_root, "calls");
        var names = Enumerable.Range(0, 40).Select(i => $"day{i % 3}/call{i:D3}").ToList();
        foreach (var name in names)
        {
            Directory.CreateDirectory(Path.Combine(dir, Path.GetDirectoryName(name)!));
            await File.WriteAllBytesAsync(Path.Combine(dir, name + ".wav"), []);
        }
        var all = await ListAsync(dir);
        Assert.Equal(names.Order(StringComparer.Ordinal), all.Order(StringComparer.Ordinal));

        var shards = new List<string[]>();
        for (var i = 0; i < 3; i++)
        {
            shards.Add(await ListAsync(dir, "--shard", $"{i}/3"));
        }
        output.WriteLine($"shard sizes: {string.Join(", ", shards.Select(s => s.Length))}");
        Assert.Equal(
            all.Order(StringComparer.Ordinal),
            shards.SelectMany(s => s).Order(StringComparer.Ordinal)
        );
        Assert.All(shards, s => Assert.NotEmpty(s));

        // The same inputs named another way (a glob instead of the folder) give the same shard: membership
        // depends on the output name only. Workers must be given the same inputs (same root folder).
        Assert.Equal(
            shards[1].Order(StringComparer.Ordinal),
            (await ListAsync(dir + "/**/*.wav", "--shard", "1/3")).Order(StringComparer.Ordinal)
        );
    }

    [Theory]
    [InlineData("3/3")]
    [InlineData("-1/3")]
    [InlineData("1")]
    [InlineData("0/0")]
    public async Task A_bad_shard_is_a_clear_error(string shard)
    {
        var (exit, _, stderr) = await CliRunner.RunAsync([
            "replay",
            _root,
            "--out",
            _root,
            "--shard",
            shard,
            "--list",
        ]);
        Assert.NotEqual(0, exit);
        Assert.Contains("--shard takes I/N", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_hash_is_stable_across_runs_and_machines() =>
        // FNV-1a 64 test vectors: a change here would reshuffle every running fleet's shards.
        Assert.Equal(
            (0xcbf29ce484222325UL, 0xaf63dc4c8601ec8cUL),
            (ReplayShard.Fnv1a(""), ReplayShard.Fnv1a("a"))
        );

    private static Dictionary<string, string> Outputs(string dir) =>
        Directory
            .EnumerateFiles(dir, "*.jsonl", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllText);

    private static IEnumerable<string> WithoutLatency(string jsonl) =>
        jsonl
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l =>
            {
                var node = System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject();
                node.Remove("latency_ms");
                return node.ToJsonString();
            });

    private static IEnumerable<string> Finals(string jsonl) =>
        jsonl
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("final").GetBoolean())
            .Select(e =>
                $"{e.GetProperty("channel")}/{e.GetProperty("segment")} {e.GetProperty("start_s").GetDouble():F2}-{e.GetProperty("end_s").GetDouble():F2} {e.GetProperty("label")}"
            );

    [SkippableFact]
    public async Task Three_shards_write_exactly_what_one_worker_writes_and_resume_finishes_the_rest()
    {
        RequireModel();
        var clips = RequireClips();
        var single = Path.Combine(_root, "single");
        var (exit, _, stderr) = await CliRunner.RunAsync([
            "replay",
            clips,
            "--out",
            single,
            "--quiet",
            "-j",
            "2",
        ]);
        Assert.True(exit == 0, stderr);

        var sharded = Path.Combine(_root, "sharded");
        for (var i = 0; i < 3; i++)
        {
            (exit, _, stderr) = await CliRunner.RunAsync([
                "replay",
                clips,
                "--out",
                sharded,
                "--quiet",
                "-j",
                "2",
                "--shard",
                $"{i}/3",
            ]);
            Assert.True(exit == 0, stderr);
        }
        var expected = Outputs(single);
        var actual = Outputs(sharded);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        // Every event the same except its measured latency.
        Assert.NotEmpty(expected);
        Assert.All(expected, p => Assert.Equal(WithoutLatency(p.Value), WithoutLatency(actual[p.Key])));

        // A worker that died: delete one shard's outputs, rerun it with --resume, nothing else is redone.
        var lost = (await ListAsync(clips, "--shard", "2/3")).ToList();
        Assert.NotEmpty(lost);
        foreach (var name in lost)
        {
            File.Delete(Path.Combine(sharded, name + ".summary.json"));
        }
        (exit, _, stderr) = await CliRunner.RunAsync([
            "replay",
            clips,
            "--out",
            sharded,
            "--shard",
            "2/3",
            "--resume",
            "-j",
            "2",
        ]);
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain("complete already", stderr, StringComparison.Ordinal);
        Assert.All(lost, n => Assert.True(File.Exists(Path.Combine(sharded, n + ".summary.json"))));
        output.WriteLine($"{expected.Count} outputs; shard 2/3 redid {lost.Count}");
    }

    [SkippableFact]
    public async Task Replay_through_a_server_writes_the_same_final_events_as_in_process()
    {
        var manifest = RequireModel();
        var clips = RequireClips();
        var local = Path.Combine(_root, "local");
        var (exit, _, stderr) = await CliRunner.RunAsync([
            "replay",
            clips,
            "--out",
            local,
            "--quiet",
            "-j",
            "2",
            "--finals-only",
        ]);
        Assert.True(exit == 0, stderr);

        using var classifier = OnnxEmotionClassifier.Load(manifest);
        using var vad = SileroVadModel.Load();
        await using var engine = new EmotionEngine(
            classifier,
            vad,
            new EngineOptions { Overload = OverloadPolicy.DropOldest }
        );
        await using var server = SerServer.Create(
            new ModelRegistry(engine),
            new ServerOptions
            {
                Host = "127.0.0.1",
                Port = 0,
                MetricsPort = -1,
                ShutdownGraceSeconds = 1,
            },
            _ => { }
        );
        await server.StartAsync();
        var remote = Path.Combine(_root, "remote");
        (exit, _, stderr) = await CliRunner.RunAsync([
            "replay",
            clips,
            "--out",
            remote,
            "--quiet",
            "-j",
            "2",
            "--finals-only",
            "--server",
            server.Address.ToString(),
        ]);
        await server.StopAsync();
        Assert.True(exit == 0, stderr);

        var expected = Outputs(local);
        var actual = Outputs(remote);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        var same = expected.Count(p => Finals(p.Value).SequenceEqual(Finals(actual[p.Key])));
        output.WriteLine($"{same}/{expected.Count} outputs with identical final events");
        Assert.NotEmpty(expected);
        Assert.All(expected, p => Assert.Equal(Finals(p.Value), Finals(actual[p.Key])));
    }
}
