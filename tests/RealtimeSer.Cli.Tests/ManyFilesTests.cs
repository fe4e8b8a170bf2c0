using System.Text.Json;

namespace RealtimeSer.Cli.Tests;

/// <summary>
/// Regression: `ser classify --json` and `ser vad` with more than ~520 long file arguments died with
/// "Fatal error. Internal CLR error. (0x80131506)" in OnnxRuntime.CreateEnv (the hand-written binding over
/// the npm build of ONNX Runtime). Run in a child process with a real 1 000-path command line, since the
/// crash depended on it.
/// </summary>
public sealed class ManyFilesTests : IDisposable
{
    private const int Count = 1000;

    private static readonly string[] Clips =
    [
        "fixtures/clips/1004_MTI_DIS_XX.wav",
        "fixtures/clips/1004_TIE_HAP_XX.wav",
        "fixtures/clips/1004_TSI_ANG_XX.wav",
    ];

    // Paths as long as real recordings' (the crash needed a long command line, not only many arguments).
    private readonly string _dir = Path.Combine(
        Path.GetTempPath(),
        $"ser-many-files-{Guid.NewGuid():N}",
        "customer-calls-recorded-by-the-contact-centre",
        "2024-quarter-three-archive"
    );

    public void Dispose()
    {
        // Nothing was made when the test skipped for want of ../shared/data.
        var root = Path.GetDirectoryName(Path.GetDirectoryName(_dir))!;
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>1 000 symlinks cycling over three fixture clips; each path's source clip.</summary>
    private Dictionary<string, string> LinkClips()
    {
        var sources = Clips.Select(CliRunner.RequireShared).ToArray();
        Directory.CreateDirectory(_dir);
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < Count; i++)
        {
            var link = Path.Combine(_dir, $"recording-{i:0000}-agent-and-customer.wav");
            File.CreateSymbolicLink(link, sources[i % sources.Length]);
            links[link] = sources[i % sources.Length];
        }
        return links;
    }

    [SkippableFact]
    public async Task Classify_json_with_1000_files_gives_1000_results()
    {
        var links = LinkClips();

        var (exit, stdout, stderr) = await SerProcess.RunAsync(
            TimeSpan.FromMinutes(5),
            ["classify", "--json", .. links.Keys]
        );

        Assert.True(exit == 0, $"exit {exit}: {stderr[..Math.Min(stderr.Length, 2000)]}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Count, lines.Length);
        var scoresBySource = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var file = json.RootElement.GetProperty("file").GetString()!;
            Assert.True(seen.Add(file), $"twice: {file}");
            var scores = json.RootElement.GetProperty("scores").GetRawText();
            // The same clip under another name must score the same: every link really was classified.
            Assert.Equal(
                scoresBySource.TryAdd(links[file], scores) ? scores : scoresBySource[links[file]],
                scores
            );
        }
        Assert.Equal(Clips.Length, scoresBySource.Count);
        Assert.Equal(3, scoresBySource.Values.Distinct().Count());
    }

    [SkippableFact]
    public async Task Vad_with_1000_files_reports_every_file()
    {
        var links = LinkClips();

        var (exit, stdout, stderr) = await SerProcess.RunAsync(
            TimeSpan.FromMinutes(5),
            ["vad", .. links.Keys]
        );

        Assert.True(exit == 0, $"exit {exit}: {stderr[..Math.Min(stderr.Length, 2000)]}");
        var files = stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line =>
            {
                using var json = JsonDocument.Parse(line);
                return json.RootElement.GetProperty("file").GetString()!;
            })
            .ToHashSet(StringComparer.Ordinal);
        Assert.Equal(Count, files.Count);
        Assert.Subset(links.Keys.ToHashSet(StringComparer.Ordinal), files);
    }
}
