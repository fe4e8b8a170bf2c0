using System.Globalization;
using Xunit.Abstractions;

namespace RealtimeSer.Audio.Tests;

public class FfmpegReaderTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Decodes_a_CREMA_D_opus_clip()
    {
        TestData.RequireTool("ffmpeg");
        TestData.RequireTool("ffprobe");
        string dir = TestData.RequireShared("crema-d", "audio");
        string opus = Directory.EnumerateFiles(dir, "*.opus").Order(StringComparer.Ordinal).First();
        using IAudioReader reader = AudioFile.Open(opus);
        Assert.IsType<FfmpegReader>(reader);
        Assert.Equal(1, reader.Format.Channels);
        Assert.Equal(48000, reader.Format.SampleRate); // Opus always decodes at 48 kHz.
        float[] samples = TestData.ReadAll(reader);
        double seconds = samples.Length / 48000.0;
        double expected = double.Parse(
            System.Text.Encoding.ASCII.GetString(
                TestData.Run(
                    "ffprobe",
                    "-v",
                    "error",
                    "-show_entries",
                    "format=duration",
                    "-of",
                    "csv=p=0",
                    opus
                )
            ),
            CultureInfo.InvariantCulture
        );
        output.WriteLine(
            $"{Path.GetFileName(opus)}: {seconds:0.000} s decoded, ffprobe says {expected:0.000} s"
        );
        Assert.Equal(expected, seconds, 0.03);
        Assert.True(SignalMath.Rms(samples) > 1e-3);
    }

    [SkippableFact]
    public void Flac_is_lossless_and_mp3_keeps_rate_channels_and_duration()
    {
        TestData.RequireTool("ffmpeg");
        TestData.RequireTool("ffprobe");
        string clip = TestData.FixtureClip();
        float[] pcm = TestData.ReadWav(clip);
        using var dir = new TempDir();
        string flac = dir.File("clip.flac");
        string mp3 = dir.File("clip-stereo.mp3");
        TestData.Run("ffmpeg", "-v", "error", "-i", clip, flac);
        TestData.Run("ffmpeg", "-v", "error", "-i", clip, "-ac", "2", "-b:a", "128k", mp3);

        using (IAudioReader reader = AudioFile.Open(flac))
        {
            Assert.Equal(16000, reader.Format.SampleRate);
            Assert.Equal(1, reader.Format.Channels);
            Assert.Equal(pcm, TestData.ReadAll(reader, 333));
        }

        using (IAudioReader reader = AudioFile.Open(mp3))
        {
            Assert.Equal(16000, reader.Format.SampleRate);
            Assert.Equal(2, reader.Format.Channels);
            float[] stereo = TestData.ReadAll(reader);
            int frames = stereo.Length / 2;
            output.WriteLine($"mp3: {frames} frames vs {pcm.Length} in the WAV");
            Assert.InRange(frames, pcm.Length - 1200, pcm.Length + 1200);
        }
    }

    [SkippableFact]
    public async Task ReadAsync_and_early_dispose_work()
    {
        TestData.RequireTool("ffmpeg");
        TestData.RequireTool("ffprobe");
        using var dir = new TempDir();
        string ogg = dir.File("long.ogg");
        TestData.Run(
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=22050:duration=60",
            "-c:a",
            "libvorbis",
            ogg
        );
        var reader = AudioFile.Open(ogg);
        Assert.Equal(22050, reader.Format.SampleRate);
        var buffer = new float[1000];
        Assert.Equal(1000, await reader.ReadAsync(buffer));
        reader.Dispose(); // Kills ffmpeg mid-stream without hanging.
    }

    [Fact]
    public void Missing_ffmpeg_gives_a_clear_message()
    {
        using var dir = new TempDir();
        string path = dir.File("song.mp3");
        File.WriteAllBytes(path, [0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        var ex = Assert.Throws<AudioFormatException>(() =>
            AudioFile.Open(path, ffmpegPath: dir.File("no-ffmpeg"))
        );
        Assert.Equal(path, ex.Path);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("Install ffmpeg", ex.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Undecodable_input_surfaces_ffmpeg_errors()
    {
        TestData.RequireTool("ffmpeg");
        TestData.RequireTool("ffprobe");
        using var dir = new TempDir();
        string path = dir.File("garbage.m4a");
        File.WriteAllBytes(path, Enumerable.Range(0, 5000).Select(i => (byte)(i * 37)).ToArray());
        var ex = Assert.Throws<AudioFormatException>(() =>
        {
            using IAudioReader reader = AudioFile.Open(path);
            _ = TestData.ReadAll(reader);
        });
        output.WriteLine(ex.Message);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("ffprobe", ex.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Wav_with_a_foreign_encoding_falls_back_to_ffmpeg()
    {
        TestData.RequireTool("ffmpeg");
        TestData.RequireTool("ffprobe");
        string clip = TestData.FixtureClip();
        using var dir = new TempDir();
        string adpcm = dir.File("adpcm.wav");
        TestData.Run("ffmpeg", "-v", "error", "-i", clip, "-c:a", "adpcm_ms", adpcm);
        Assert.Throws<AudioFormatException>(() => WavReader.Open(adpcm));
        using IAudioReader reader = AudioFile.Open(adpcm);
        Assert.IsType<FfmpegReader>(reader);
        Assert.Equal(16000, reader.Format.SampleRate);
        Assert.InRange(
            TestData.ReadAll(reader).Length,
            TestData.ReadWav(clip).Length - 2048,
            TestData.ReadWav(clip).Length + 2048
        );
    }
}
