using System.Diagnostics;
using System.Globalization;
using RealtimeSer.Audio.Capture;
using RealtimeSer.Core.Ingest;
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
/// One listening session: microphone → engine stream → view or JSON lines, until cancelled (Ctrl+C or
/// <c>--seconds</c>); then capture stops, the stream is completed so the last segment gets its final, and
/// a summary is printed.
/// </summary>
internal sealed class ListenRunner(EmotionEngine engine, CaptureStream capture, ListenOutput output)
{
    private readonly SessionStats _stats = new();

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var started = Stopwatch.GetTimestamp();
        await using var source = new MicrophoneSource(capture);
        await using var stream = engine.OpenStream(
            "mic",
            new StreamFormat(source.SampleRate, source.Channels, ChannelMode.Mix)
        );
        var consumer = Task.Run(() => ConsumeAsync(stream));
        source.Start();

        Task pump = PumpAsync(source, stream, stop);
        if (output == ListenOutput.View)
        {
            await ShowAsync(stream, source, started, pump);
        }
        await pump;
        await consumer;
        PrintSummary(stream, source, Stopwatch.GetElapsedTime(started));
        return 0;
    }

    private static async Task PumpAsync(MicrophoneSource source, EngineStream stream, CancellationToken stop)
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
                await stream.WriteAsync(
                    buffer.AsMemory(0, block.Frames * source.Channels),
                    block.CapturedAt,
                    stop
                );
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

    private async Task ConsumeAsync(EngineStream stream)
    {
        await foreach (var e in stream.Events.ReadAllAsync())
        {
            if (e is not EmotionEvent emotion)
            {
                continue;
            }
            _stats.Add(emotion);
            if (output == ListenOutput.Json)
            {
                await Console.Out.WriteLineAsync(EventJson.ToLine(emotion, null));
            }
            else if (output == ListenOutput.Text && emotion.IsFinal)
            {
                await Console.Out.WriteLineAsync(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"segment {emotion.Segment}: {emotion.StartSeconds:0.00}–{emotion.EndSeconds:0.00} s {emotion.Label} "
                            + $"({emotion.ScoreOf(emotion.Label):0.00}), {emotion.Latency.EndToEndMs:0} ms"
                    )
                );
            }
        }
    }

    private async Task ShowAsync(EngineStream stream, MicrophoneSource source, long started, Task pump)
    {
        var labels = engine.Classifier.Manifest.Labels;
        ListenSnapshot Snapshot(string? status = null)
        {
            var (inSpeech, probability) = stream.VadState(0);
            return new ListenSnapshot(
                capture.Device.Name,
                capture.SampleRate,
                Stopwatch.GetElapsedTime(started),
                inSpeech,
                probability,
                _stats.Current,
                labels,
                _stats.LastFinals(20),
                _stats.Segments,
                _stats.LatencyPercentile(50),
                _stats.LatencyPercentile(95),
                stream.WindowsDropped,
                source.DroppedBlocks,
                source.Overflows,
                status
            );
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

    private void PrintSummary(EngineStream stream, MicrophoneSource source, TimeSpan elapsed)
    {
        var shares = _stats.LabelShares();
        var lines = new List<string>
        {
            string.Create(
                CultureInfo.InvariantCulture,
                $"listen: {elapsed.TotalSeconds:0.0} s, {stream.SecondsReceived:0.0} s of audio from {capture.Device.Name} at {capture.SampleRate} Hz; "
                    + $"{_stats.Segments} segments, {stream.WindowsClassified} windows"
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
            $"listen: drops: {stream.WindowsDropped} windows, {stream.SegmentsLost} segments lost, "
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
