using RealtimeSer.Audio;
using RealtimeSer.Tests.Fakes;

namespace RealtimeSer.Core.Tests.Support;

internal static class TestAudio
{
    public static float[] ReadMono16k(string path)
    {
        var (interleaved, channels) = ReadInterleaved16k(path);
        var mono = new float[interleaved.Length / channels];
        for (var i = 0; i < mono.Length; i++)
        {
            mono[i] = interleaved[i * channels];
        }
        return mono;
    }

    /// <summary>All channels of a 16 kHz file, interleaved as the engine takes them.</summary>
    public static (float[] Interleaved, int Channels) ReadInterleaved16k(string path)
    {
        using var reader = AudioFile.Open(path);
        Assert.Equal(16000, reader.Format.SampleRate);
        var channels = reader.Format.Channels;
        var all = new List<float>();
        var block = new float[4096 * channels];
        int n;
        while ((n = reader.Read(block)) > 0)
        {
            all.AddRange(block.AsSpan(0, n * channels));
        }
        return ([.. all], channels);
    }

    /// <summary>Fixture clips separated by a second of silence, shifted by a DC offset that encodes a label.</summary>
    public static float[] Conversation(IEnumerable<string> clipPaths, int label)
    {
        var audio = new List<float>(new float[16000]);
        foreach (var clip in clipPaths)
        {
            audio.AddRange(ReadMono16k(clip).Select(x => x * 0.5f + label * FakeClassifier.Step));
            audio.AddRange(Enumerable.Repeat(label * FakeClassifier.Step, 16000));
        }
        return [.. audio];
    }

    public static string[] FixtureClips(int count)
    {
        var dir = TestPaths.RequireShared("fixtures/clips/1004_TSI_ANG_XX.wav");
        return Directory
            .GetFiles(Path.GetDirectoryName(dir)!, "*.wav")
            .Order(StringComparer.Ordinal)
            .Take(count)
            .ToArray();
    }
}
