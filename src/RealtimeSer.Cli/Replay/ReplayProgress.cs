using System.Diagnostics;
using Spectre.Console;

namespace RealtimeSer.Cli.Replay;

/// <summary>
/// Progress of a replay on stderr: a live bar with files, audio hours, speed as a multiple of real time and
/// ETA when stderr is a terminal; one line per finished file otherwise; nothing with --quiet.
/// <paramref name="totalAudioSeconds"/> is 0 when not every input's length is known (non-WAV inputs): the bar
/// then counts files.
/// </summary>
internal sealed class ReplayProgress(int files, double totalAudioSeconds, bool quiet)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _audioDone;
    private int _filesDone;
    private int _failed;

    public int Failed => _failed;

    public int Done => _filesDone;

    public double AudioSeconds => Interlocked.CompareExchange(ref _audioDone, 0, 0);

    public double Elapsed => _clock.Elapsed.TotalSeconds;

    public void AddAudio(double seconds)
    {
        double current,
            next;
        do
        {
            current = _audioDone;
            next = current + seconds;
        } while (Interlocked.CompareExchange(ref _audioDone, next, current) != current);
    }

    public void FileDone(ReplayInput input, ReplayStats stats)
    {
        Interlocked.Increment(ref _filesDone);
        if (!quiet && !Interactive)
        {
            Console.Error.WriteLine(
                $"replay: [{_filesDone}/{files}] {input.Path}: {stats.AudioSeconds:0.0} s in {stats.ElapsedSeconds:0.0} s "
                    + $"({stats.AudioSeconds / Math.Max(1e-9, stats.ElapsedSeconds):0}x real time)"
            );
        }
    }

    public void FileFailed(ReplayInput input, Exception error)
    {
        Interlocked.Increment(ref _failed);
        Interlocked.Increment(ref _filesDone);
        // Failures are always reported, --quiet or not: the exit code alone does not say which file.
        Console.Error.WriteLine($"replay: FAILED {input.Path}: {error.Message}");
    }

    /// <summary>An output <c>--resume</c> found but cannot keep: said even with --quiet, since it costs a rerun.</summary>
    public void FileRedone(ReplayInput input, string why) =>
        Console.Error.WriteLine($"replay: {input.Path}: redoing its output: {why} (--resume)");

    public void FileSkipped(ReplayInput input)
    {
        Interlocked.Increment(ref _filesDone);
        if (!quiet && !Interactive)
        {
            Console.Error.WriteLine(
                $"replay: [{_filesDone}/{files}] {input.Path}: complete already (--resume)"
            );
        }
    }

    private static bool Interactive => !Console.IsErrorRedirected;

    /// <summary>Runs <paramref name="work"/>, showing a live bar meanwhile when interactive.</summary>
    public async Task RunAsync(Func<Task> work)
    {
        if (quiet || !Interactive)
        {
            await work();
            return;
        }
        var console = AnsiConsole.Create(
            new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }
        );
        await console
            .Progress()
            .AutoClear(false)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new RemainingTimeColumn()
            )
            .StartAsync(async context =>
            {
                var task = context.AddTask(
                    "replay",
                    maxValue: totalAudioSeconds > 0 ? totalAudioSeconds : files
                );
                var running = work();
                while (!running.IsCompleted)
                {
                    Update(task);
                    await Task.WhenAny(running, Task.Delay(250));
                }
                Update(task);
                await running;
            });
    }

    private void Update(ProgressTask task)
    {
        var audio = AudioSeconds;
        var speed = audio / Math.Max(1e-9, Elapsed);
        task.Value = totalAudioSeconds > 0 ? Math.Min(audio, totalAudioSeconds) : _filesDone;
        task.Description =
            $"files {_filesDone}/{files}  audio {audio / 3600:0.00} h  {speed:0}x real time"
            + (_failed > 0 ? $"  [red]{_failed} failed[/]" : "");
    }
}
