using System.Diagnostics;
using System.Text;
using RealtimeSer.Audio.Capture;
using RealtimeSer.Core;
using RealtimeSer.Core.Models;

namespace RealtimeSer.Cli.Tests.Listen;

/// <summary>
/// A sound card made of a file: an ALSA configuration whose default PCM is the <c>file</c> plugin reading a
/// raw 16 kHz s16le recording (over the <c>null</c> plugin), so the real PortAudio capture path runs with
/// no hardware. Only a child process sees it (ALSA reads ALSA_CONFIG_PATH from the native environment).
/// The file plugin produces samples as fast as they are read; the capture layer paces them to real time.
/// Past the end of the file it repeats stale buffer content, so recordings end in long silence.
/// </summary>
internal sealed class VirtualMicrophone : IDisposable
{
    public const int Rate = 16000;

    private VirtualMicrophone(string dir)
    {
        Directory = dir;
    }

    public string Directory { get; }

    public string RawPath => Path.Combine(Directory, "mic.raw");

    public string WavPath => Path.Combine(Directory, "mic.wav");

    public string ConfigPath => Path.Combine(Directory, "asound.conf");

    /// <summary>Seconds of audio in the recording.</summary>
    public double Seconds => new FileInfo(RawPath).Length / 2.0 / Rate;

    /// <summary>A virtual microphone playing <paramref name="clips"/> with <paramref name="gap"/> seconds of silence around each.</summary>
    public static VirtualMicrophone FromClips(
        IReadOnlyList<string> clips,
        double gap = 1.0,
        double tail = 6.0
    )
    {
        var mic = new VirtualMicrophone(NewDir());
        var silence = Path.Combine(mic.Directory, "gap.wav");
        var tailSilence = Path.Combine(mic.Directory, "tail.wav");
        Sox("-n", "-r", "16000", "-c", "1", "-b", "16", silence, "trim", "0", Inv(gap));
        Sox("-n", "-r", "16000", "-c", "1", "-b", "16", tailSilence, "trim", "0", Inv(tail));
        var args = new List<string> { silence };
        foreach (var clip in clips)
        {
            args.Add(clip);
            args.Add(silence);
        }
        args.AddRange([tailSilence, "-r", "16000", "-c", "1", "-b", "16", mic.WavPath]);
        Sox([.. args]);
        Sox(mic.WavPath, "-t", "raw", "-e", "signed", "-b", "16", mic.RawPath);
        mic.WriteConfig(withDevice: true);
        return mic;
    }

    /// <summary>An ALSA configuration with an output but no input: PortAudio finds no microphone.</summary>
    public static VirtualMicrophone NoDevices()
    {
        var mic = new VirtualMicrophone(NewDir());
        mic.WriteConfig(withDevice: false);
        return mic;
    }

    private void WriteConfig(bool withDevice)
    {
        // ALSA_CONFIG_PATH replaces the stock alsa.conf, so everything PortAudio opens is defined here.
        var text = withDevice
            ? $$"""
                pcm.!default {
                    type plug
                    slave {
                        pcm {
                            type file
                            slave.pcm { type null }
                            file "/dev/null"
                            infile "{{RawPath}}"
                            format "raw"
                        }
                        format S16_LE
                        rate {{Rate}}
                        channels 1
                    }
                }
                """
            // PortAudio asserts on a configuration with no PCM at all; a default that cannot capture is "no mic".
            : "pcm.!default {\n type asym\n playback.pcm { type null }\n capture.pcm { type hw card 99 }\n}\n";
        File.WriteAllText(ConfigPath, text, new UTF8Encoding(false));
    }

    /// <summary>Runs <c>ser</c> in a child process whose ALSA sees only this device.</summary>
    public Task<(int Exit, string Out, string Err)> RunSerAsync(TimeSpan timeout, params string[] args) =>
        SerProcess.RunAsync(timeout, args, ApplyEnvironment);

    public void ApplyEnvironment(IDictionary<string, string?> environment)
    {
        environment["ALSA_CONFIG_PATH"] = ConfigPath;
        environment["REALTIMESER_ROOT"] = ModelLocator.RepositoryRoots().First();
        // No JACK server here; stop PortAudio's JACK backend from trying to start one.
        environment["JACK_NO_START_SERVER"] = "1";
    }

    public static string SerDll => SerProcess.Dll;

    public static void RequirePortAudio() =>
        Skip.IfNot(PortAudioHost.IsAvailable(), "PortAudio not found: apt-get install libportaudio2");

    public static void RequireSox() =>
        Skip.IfNot(FindOnPath("sox") is not null, "sox is not installed (tools/bootstrap installs it)");

    public static void RequireModel()
    {
        var models = ModelCatalog.List();
        Skip.If(
            models.Count == 0,
            $"no emotion model installed (looked in: {string.Join(", ", ModelCatalog.Folders())}); "
                + "these tests use the default model (models/general6)"
        );
    }

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    private static string NewDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ser-listen-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Inv(double x) => x.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static void Sox(params string[] args)
    {
        var start = new ProcessStartInfo("sox") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"sox {string.Join(' ', args)}: {err}");
        }
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException) { }
    }
}
