using System.Diagnostics;
using System.Globalization;
using RealtimeSer.Audio.Capture;
using RealtimeSer.Core.Output;
using RealtimeSer.Core.Pipeline;
using Spectre.Console;

namespace RealtimeSer.Cli.Listen;

internal enum ListenOutput
{
    /// <summary>The live terminal view.</summary>
    View,

    /// <summary>One JSON line per event on stdout (the <c>ser replay</c> schema).</summary>
    Json,

    /// <summary>One plain line per final segment (stdout is not a terminal).</summary>
    Text,
}

/// <summary>
/// One listening session: microphone → engine stream (or server) → view or JSON lines, until cancelled
/// (Ctrl+C or <c>--seconds</c>); then capture stops, the stream is completed so the last segment gets its
/// final, and a summary is printed.
/// </summary>
internal sealed class ListenRunner(IListenBackend backend, CaptureStream capture, ListenOutput output)
{
    private readonly SessionStats _stats = new();

    public ListenRunner(EmotionEngine engine, CaptureStream capture, ListenOutput output)
        : this(new EngineListenBackend(engine), capture, output) { }

    /// <summary>Shown after the device name: where the audio goes (a server address), or null.</summary>
    public string? Target { get; init; }

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var started = Stopwatch.GetTimestamp();
        await using var source = new MicrophoneSource(capture);
        await using var stream = backend;
        await backend.OpenAsync(source.SampleRate, source.Channels, stop);
        // A failed event stream (server gone) ends the session instead of capturing into nowhere.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var consumer = Task.Run(async () =>
        {
            try
            {
                await ConsumeAsync();
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }
        });
        source.Start();

        Task pump = PumpAsync(source, backend, failed.Token);
        if (output == ListenOutput.View)
        {
            await ShowAsync(source, started, pump);
        }
        await pump;
        await consumer;
        PrintSummary(source, Stopwatch.GetElapsedTime(started));
        return 0;
    }

    private static async Task PumpAsync(
        MicrophoneSource source,
        IListenBackend stream,
        CancellationToken stop
    )
    {
        var buffer = new float[Math.Max(1, source.SampleRate / 10) * source.Channels];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var block = await source.ReadAsync(buffer, stop);
                if (block.Frames == 0)
                {
                    break;
                }
                if (
                    !await stream.WriteAsync(
                        buffer.AsMemory(0, block.Frames * source.Channels),
                        block.CapturedAt,
                        stop
                    )
                )
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Ctrl+C or --seconds: the normal way out.
        }
        source.StopCapture();
        // Completing closes the open segment and waits for its final; bounded so a stuck model cannot hang exit.
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.CompleteAsync(drain.Token);
    }

    private async Task ConsumeAsync()
    {
        await foreach (var emotion in backend.ReadEventsAsync())
        {
            _stats.Add(emotion);
            if (output == ListenOutput.Json)
            {
                await Console.Out.WriteLineAsync(EventJson.ToLine(emotion, null));
            }
            else if (output == ListenOutput.Text && emotion.IsFinal)
            {
                var others = string.Concat(
                    emotion
                        .Models.Skip(1)
                        .Select(m =>
                            string.Create(
                                CultureInfo.InvariantCulture,
                                $", {m.Model} {m.Label} ({m.ScoreOf(m.Label):0.00})"
                            )
                        )
                );
                await Console.Out.WriteLineAsync(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"segment {emotion.Segment}: {emotion.StartSeconds:0.00}–{emotion.EndSeconds:0.00} s {emotion.Label} "
                            + $"({emotion.ScoreOf(emotion.Label):0.00}){others}, {emotion.Latency.EndToEndMs:0} ms"
                    )
                );
            }
        }
    }

    private async Task ShowAsync(MicrophoneSource source, long started, Task pump)
    {
        var device = Target is null ? capture.Device.Name : $"{capture.Device.Name} → {Target}";
        ListenSnapshot Snapshot(string? status = null)
        {
            var (inSpeech, probability) = backend.VadState;
            var current = _stats.Current;
            return new ListenSnapshot(
                device,
                capture.SampleRate,
                Stopwatch.GetElapsedTime(started),
                inSpeech,
                probability,
                current,
                current?.Labels ?? backend.Labels,
                _stats.LastFinals(20),
                _stats.Segments,
                _stats.LatencyPercentile(50),
                _stats.LatencyPercentile(95),
                backend.WindowsDropped,
                source.DroppedBlocks,
                source.Overflows,
                status
            )
            {
                AudioShedSeconds = backend.AudioSecondsShed,
            };
        }
        int Width() => AnsiConsole.Profile.Width;
        int Height() => AnsiConsole.Profile.Height;
        await AnsiConsole
            .Live(ListenView.Render(Snapshot(), Width(), Height()))
            .AutoClear(false)
            .Overflow(VerticalOverflow.Crop)
            .Cropping(VerticalOverflowCropping.Bottom)
            .StartAsync(async ctx =>
            {
                // Ten frames a second is smooth enough for a VAD light and cheap next to inference.
                while (!pump.IsCompleted)
                {
                    ctx.UpdateTarget(ListenView.Render(Snapshot(), Width(), Height()));
                    await Task.WhenAny(pump, Task.Delay(100, CancellationToken.None));
                }
                ctx.UpdateTarget(ListenView.Render(Snapshot("stopped"), Width(), Height()));
            });
    }

    private void PrintSummary(MicrophoneSource source, TimeSpan elapsed)
    {
        var shares = _stats.LabelShares();
        var lines = new List<string>
        {
            string.Create(
                CultureInfo.InvariantCulture,
                $"listen: {elapsed.TotalSeconds:0.0} s, {backend.SecondsReceived:0.0} s of audio from {capture.Device.Name} at {capture.SampleRate} Hz{(Target is null ? "" : " to " + Target)}; "
                    + $"{_stats.Segments} segments, {backend.WindowsClassified} windows"
            ),
            "listen: labels: "
                + (
                    shares.Count == 0
                        ? "none (no speech)"
                        : string.Join(
                            ", ",
                            shares.Select(s =>
                                string.Create(
                                    CultureInfo.InvariantCulture,
                                    $"{s.Label} {s.Share:P0} ({s.Segments})"
                                )
                            )
                        )
                ),
            string.Create(
                CultureInfo.InvariantCulture,
                $"listen: latency capture→event p50 {_stats.LatencyPercentile(50):0} ms, p95 {_stats.LatencyPercentile(95):0} ms "
                    + $"over {_stats.LatencyCount} events"
            ),
            $"listen: drops: {backend.WindowsDropped} windows, {backend.SegmentsLost} segments lost, "
                + $"{backend.AudioSecondsShed:0.0} s of audio shed (fell behind), "
                + $"{source.DroppedBlocks} capture blocks, {source.Overflows} device overflows",
        };
        // Stdout carries only events in JSON mode, so the summary goes to stderr there.
        var writer = output == ListenOutput.Json ? Console.Error : Console.Out;
        foreach (var line in lines)
        {
            writer.WriteLine(line);
        }
    }
}
