using System.Diagnostics;

namespace RealtimeSer.Audio.Tests;

/// <summary>Locates the shared corpus and external tools; tests that need them skip when absent.</summary>
internal static class TestData
{
    private static readonly Lazy<string?> s_sharedDir = new(FindSharedDir);

    /// <summary>../shared/data relative to the folder holding RealtimeSer.sln, or null when absent.</summary>
    public static string? SharedDir => s_sharedDir.Value;

    public static string RequireShared(params string[] parts)
    {
        Skip.If(
            SharedDir is null,
            "Shared test data (../shared/data next to the repository) is absent; skipping."
        );
        string path = Path.Combine([SharedDir!, .. parts]);
        Skip.IfNot(
            File.Exists(path) || Directory.Exists(path),
            $"Shared test data '{path}' is absent; skipping."
        );
        return path;
    }

    public static string FixtureClip(string name = "1004_TSI_ANG_XX.wav") =>
        RequireShared("fixtures", "clips", name);

    public static void RequireTool(string name) =>
        Skip.If(
            FindOnPath(name) is null,
            $"'{name}' is not on PATH; skipping (tools/bootstrap installs it)."
        );

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Runs a tool, failing the test with its stderr when it exits non-zero.</summary>
    public static byte[] Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var stdout = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(stdout);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed: {stderr.Result}");
        }

        return stdout.ToArray();
    }

    public static float[] ReadAll(IAudioReader reader, int chunkFrames = 4096)
    {
        var all = new List<float>();
        var buffer = new float[chunkFrames * reader.Format.Channels];
        int n;
        while ((n = reader.Read(buffer)) > 0)
        {
            all.AddRange(buffer.AsSpan(0, n * reader.Format.Channels));
        }

        return [.. all];
    }

    public static float[] ReadWav(string path)
    {
        using var reader = WavReader.Open(path);
        return ReadAll(reader);
    }

    private static string? FindSharedDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RealtimeSer.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                return Directory.Exists(shared) ? shared : null;
            }
        }

        return null;
    }
}

/// <summary>A temporary directory removed when disposed.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } =
        System.IO.Path.Combine(
            System.IO.Path.GetTempPath(),
            "realtimeser-audio-" + Guid.NewGuid().ToString("N")
        );

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
    }
}
