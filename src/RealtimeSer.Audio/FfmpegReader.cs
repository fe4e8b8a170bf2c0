using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace RealtimeSer.Audio;

/// <summary>
/// Decodes any format ffmpeg understands (mp3, opus, flac, ogg, m4a, ...) by streaming
/// <c>ffmpeg -f f32le</c> from its stdout: float32 at the source rate and channel count, constant memory.
/// Disposing kills the process if it is still running.
/// </summary>
public sealed class FfmpegReader : IAudioReader
{
    private const int MaxStderrChars = 4000;

    private readonly Process _process;
    private readonly FrameStreamReader _frames;
    private readonly StringBuilder _stderr = new();
    private readonly FfmpegInput _input;
    private bool _checkedExit;

    private FfmpegReader(Process process, AudioFormat format, FfmpegInput input)
    {
        _process = process;
        _input = input;
        Format = format;
        _frames = new FrameStreamReader(process.StandardOutput.BaseStream, format, dataBytes: -1);
    }

    /// <summary>Always float32 (what ffmpeg is asked to emit) at the probed rate and channel count.</summary>
    public AudioFormat Format { get; }

    /// <summary>Unknown: compressed formats do not record an exact frame count.</summary>
    public long? TotalFrames => null;

    /// <summary>Probes the file with ffprobe and starts ffmpeg.</summary>
    /// <param name="path">The audio file.</param>
    /// <param name="ffmpegPath">The ffmpeg executable; null searches PATH. ffprobe is taken from the same folder.</param>
    public static FfmpegReader Open(string path, string? ffmpegPath = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Open(FfmpegInput.Trusted(path), ffmpegPath);
    }

    internal static FfmpegReader Open(FfmpegInput input, string? ffmpegPath)
    {
        string path = input.DisplayName;
        string ffmpeg = ResolveFfmpeg(path, ffmpegPath);
        string ffprobe =
            ExecutableLocator.FindSibling(ffmpeg, "ffprobe")
            ?? throw new AudioFormatException(
                $"Cannot decode '{path}': ffprobe (part of ffmpeg) was not found beside '{ffmpeg}' or on PATH; "
                    + "install the full ffmpeg package.",
                path
            );
        (int rate, int channels) = Probe(ffprobe, input);

        var start = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (
            string arg in new[] { "-v", "error", "-nostdin" }
                .Concat(input.Arguments())
                .Concat([
                    "-map",
                    "0:a:0",
                    "-f",
                    "f32le",
                    "-acodec",
                    "pcm_f32le",
                    "-ar",
                    rate.ToString(CultureInfo.InvariantCulture),
                    "-ac",
                    channels.ToString(CultureInfo.InvariantCulture),
                    "-",
                ])
        )
        {
            start.ArgumentList.Add(arg);
        }

        Process process = StartProcess(start, path);
        var reader = new FfmpegReader(
            process,
            new AudioFormat(rate, channels, SampleEncoding.Float, 32),
            input
        );
        process.ErrorDataReceived += reader.OnStderr;
        process.BeginErrorReadLine();
        return reader;
    }

    public int Read(Span<float> destination)
    {
        int frames = _frames.Read(destination);
        if (frames == 0 && destination.Length >= Format.Channels)
        {
            CheckExit();
        }

        return frames;
    }

    public async ValueTask<int> ReadAsync(
        Memory<float> destination,
        CancellationToken cancellationToken = default
    )
    {
        int frames = await _frames.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        if (frames == 0 && destination.Length >= Format.Channels)
        {
            await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            CheckExit();
        }

        return frames;
    }

    public void Dispose()
    {
        _frames.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already exited between the check and the kill.
        }

        _process.Dispose();
    }

    private void CheckExit()
    {
        if (_checkedExit)
        {
            return;
        }

        _checkedExit = true;
        _process.WaitForExit(); // Also drains the asynchronous stderr reader.
        if (_process.ExitCode != 0)
        {
            throw new AudioFormatException(
                $"ffmpeg failed to decode '{_input.DisplayName}' (exit code {_process.ExitCode}): {_input.Scrub(StderrText())}",
                _input.DisplayName
            );
        }
    }

    private void OnStderr(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is null)
        {
            return;
        }

        lock (_stderr)
        {
            if (_stderr.Length < MaxStderrChars)
            {
                _stderr.AppendLine(e.Data);
            }
        }
    }

    private string StderrText()
    {
        lock (_stderr)
        {
            string text = _stderr.ToString().Trim();
            return text.Length == 0 ? "(no message)" : text;
        }
    }

    private static string ResolveFfmpeg(string path, string? ffmpegPath)
    {
        string? resolved =
            ffmpegPath is null ? ExecutableLocator.Find("ffmpeg")
            : File.Exists(ffmpegPath) ? ffmpegPath
            : null;
        return resolved
            ?? throw new AudioFormatException(
                $"Cannot decode '{path}': it is not a WAV file this reader decodes natively, and ffmpeg "
                    + (ffmpegPath is null ? "is not on PATH" : $"was not found at '{ffmpegPath}'")
                    + ". Install ffmpeg (e.g. 'apt install ffmpeg', 'brew install ffmpeg', 'winget install ffmpeg') "
                    + "or convert the file to WAV.",
                path
            );
    }

    private static (int Rate, int Channels) Probe(string ffprobe, FfmpegInput input)
    {
        string path = input.DisplayName;
        var start = new ProcessStartInfo(ffprobe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (
            string arg in new[]
            {
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=sample_rate,channels",
                "-of",
                "default=noprint_wrappers=1",
            }.Concat(input.Arguments())
        )
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = StartProcess(start, path);
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string errors = input.Scrub(stderr.GetAwaiter().GetResult().Trim());
        if (process.ExitCode != 0)
        {
            throw new AudioFormatException(
                $"Cannot decode '{path}': ffprobe failed (exit code {process.ExitCode}): "
                    + (errors.Length == 0 ? "(no message)" : errors),
                path
            );
        }

        int rate = 0;
        int channels = 0;
        foreach (
            string line in stdout.Split(
                '\n',
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries
            )
        )
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                continue;
            }

            _ = int.TryParse(
                line.AsSpan(eq + 1),
                NumberStyles.Integer,
                CultureInfo.InvariantCulture,
                out int value
            );
            if (line.StartsWith("sample_rate=", StringComparison.Ordinal))
            {
                rate = value;
            }
            else if (line.StartsWith("channels=", StringComparison.Ordinal))
            {
                channels = value;
            }
        }

        if (rate <= 0 || channels <= 0)
        {
            throw new AudioFormatException(
                $"Cannot decode '{path}': ffprobe found no audio stream in it"
                    + (errors.Length == 0 ? "." : $" ({errors})."),
                path
            );
        }

        return (rate, channels);
    }

    private static Process StartProcess(ProcessStartInfo start, string path)
    {
        try
        {
            return Process.Start(start)
                ?? throw new AudioFormatException(
                    $"Cannot decode '{path}': '{start.FileName}' did not start.",
                    path
                );
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new AudioFormatException(
                $"Cannot decode '{path}': starting '{start.FileName}' failed ({e.Message}); check the ffmpeg installation.",
                path,
                e
            );
        }
    }
}
