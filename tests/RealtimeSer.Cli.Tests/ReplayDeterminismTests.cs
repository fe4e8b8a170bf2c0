using System.Text.RegularExpressions;

namespace RealtimeSer.Cli.Tests;

/// <summary>
/// Replay is deterministic whatever the batching: the fixture calls replayed one file and one window at a time,
/// and both at once in batches of 16, give the same outputs byte for byte but for the timings
/// (<c>latency_ms</c>, and <c>elapsed_s</c> and <c>speed_x_realtime</c> in the summaries), which measure the run.
/// </summary>
public sealed partial class ReplayDeterminismTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ser-replay-determinism-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public async Task Replay_outputs_do_not_depend_on_batching_or_parallel_files()
    {
        var stereo = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        var mulaw = CliRunner.RequireShared("fixtures/calls/call01_mulaw8k.wav");
        var serial = Path.Combine(_dir, "serial");
        var batched = Path.Combine(_dir, "batched");
        var one = await CliRunner.RunAsync(
            "replay",
            stereo,
            mulaw,
            "--out",
            serial,
            "--quiet",
            "-j",
            "1",
            "--batch",
            "1"
        );
        Assert.True(one.Exit == 0, one.Err);
        var many = await CliRunner.RunAsync(
            "replay",
            stereo,
            mulaw,
            "--out",
            batched,
            "--quiet",
            "-j",
            "4",
            "--batch",
            "16"
        );
        Assert.True(many.Exit == 0, many.Err);

        var files = Directory.GetFiles(serial).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(4, files.Count);
        Assert.Equal(files, Directory.GetFiles(batched).Select(Path.GetFileName).Order().ToList());
        foreach (var file in files)
        {
            var a = Timeless(await File.ReadAllTextAsync(Path.Combine(serial, file!)));
            var b = Timeless(await File.ReadAllTextAsync(Path.Combine(batched, file!)));
            Assert.True(a.Length > 500, $"{file}: {a.Length} characters");
            Assert.Equal(a, b);
        }
    }

    private static string Timeless(string text) => Timings().Replace(text, "");

    [GeneratedRegex(
        @",""latency_ms"":\{[^}]*(\{[^}]*\})?[^}]*\}|""(elapsed_s|speed_x_realtime)"":\s*[0-9.eE+-]+,?"
    )]
    private static partial Regex Timings();
}
