using System.Text.Json;

namespace RealtimeSer.Cli.Tests;

public class VadCommandTests
{
    [SkippableFact]
    public async Task Vad_prints_one_json_line_per_segment_per_channel()
    {
        var call = CliRunner.RequireShared("fixtures/calls/call01_mulaw8k.wav");

        var (exit, stdout, stderr) = await CliRunner.RunAsync("vad", call);

        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 20, $"expected many segments, got {lines.Length}");
        var perChannel = new Dictionary<int, double>();
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            Assert.Equal(["channel", "start_s", "end_s"], root.EnumerateObject().Select(p => p.Name));
            var channel = root.GetProperty("channel").GetInt32();
            var start = root.GetProperty("start_s").GetDouble();
            var end = root.GetProperty("end_s").GetDouble();
            Assert.InRange(channel, 0, 1);
            Assert.True(end > start, line);
            Assert.True(start >= perChannel.GetValueOrDefault(channel), $"out of order: {line}");
            perChannel[channel] = end;
        }
        Assert.Equal(2, perChannel.Count);
    }

    [SkippableFact]
    public async Task Mix_gives_a_single_channel()
    {
        var call = CliRunner.RequireShared("fixtures/calls/call01_stereo16k.wav");
        var (exit, stdout, _) = await CliRunner.RunAsync("vad", "--mix", call);
        Assert.Equal(0, exit);
        var segments = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(segments);
        Assert.All(
            segments,
            l => Assert.Equal(0, JsonDocument.Parse(l).RootElement.GetProperty("channel").GetInt32())
        );
    }

    [Fact]
    public async Task Missing_file_is_a_clear_error_not_a_crash()
    {
        var (exit, stdout, stderr) = await CliRunner.RunAsync("vad", "/nonexistent/call.wav");
        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("/nonexistent/call.wav", stderr);
        Assert.StartsWith("ser: error:", stderr);
    }

    [Fact]
    public async Task Malformed_wav_is_a_clear_error()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ser-bad-{Guid.NewGuid():N}.wav");
        await File.WriteAllBytesAsync(path, "RIFF\x10\0\0\0WAVEfmt "u8.ToArray());
        try
        {
            var (exit, _, stderr) = await CliRunner.RunAsync("vad", path);
            Assert.Equal(1, exit);
            Assert.Contains(path, stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public async Task Vad_takes_a_directory_as_replay_and_classify_do_naming_each_file()
    {
        var clips = Path.GetDirectoryName(CliRunner.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav"))!;
        var dir = Directory.CreateTempSubdirectory("ser-vad-dir-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "sub"));
            File.Copy(Path.Combine(clips, "1004_TSI_ANG_XX.wav"), Path.Combine(dir, "a.wav"));
            File.Copy(Path.Combine(clips, "1011_IOM_ANG_XX.wav"), Path.Combine(dir, "sub", "b.wav"));
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "not audio");

            var (exit, stdout, stderr) = await CliRunner.RunAsync("vad", dir);

            Assert.True(exit == 0, stderr);
            var files = stdout
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("file").GetString())
                .Distinct()
                .ToList();
            Assert.Equal([Path.Combine(dir, "a.wav"), Path.Combine(dir, "sub", "b.wav")], files);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("vad")]
    [InlineData("classify")]
    public async Task A_directory_without_audio_is_nothing_to_do_and_fails(string command)
    {
        var dir = Directory.CreateTempSubdirectory("ser-empty-").FullName;
        try
        {
            var (exit, stdout, stderr) = await CliRunner.RunAsync(command, dir);

            Assert.Equal(1, exit);
            Assert.Empty(stdout);
            Assert.Contains($"ser: nothing to do: no audio files in {dir}", stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("stream")]
    [InlineData("bench vad")]
    public async Task A_directory_where_one_file_is_expected_is_named_as_a_directory(string command)
    {
        var dir = Directory.CreateTempSubdirectory("ser-dir-").FullName;
        try
        {
            var (exit, stdout, stderr) = await CliRunner.RunAsync([.. command.Split(' '), dir]);

            Assert.Equal(1, exit);
            Assert.Empty(stdout);
            Assert.Equal($"ser: error: {dir} is a directory, not an audio file.", stderr.Trim());
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public async Task Invalid_threshold_is_rejected_with_its_name()
    {
        var (exit, _, stderr) = await CliRunner.RunAsync("vad", "--threshold", "1.5", "x.wav");
        Assert.Equal(1, exit);
        Assert.Contains("threshold", stderr);
    }
}
