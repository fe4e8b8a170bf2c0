using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using RealtimeSer.Audio;
using RealtimeSer.Cli.Remote;
using RealtimeSer.Core.Output;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Commands;

/// <summary>
/// <c>ser stream FILE --server URL</c>: plays a file to a RealtimeSer server as a live stream (LINEAR16 at
/// the file's rate and channels) and prints the events; reports client-side latency at the end.
/// </summary>
internal static class StreamCommand
{
    private const int ChunkMs = 100;

    /// <summary>What <c>ser replay</c> sends per message (in process and with --server).</summary>
    private const int FastChunkMs = 500;

    public static Command Create() =>
        CliCommand.Create(
            "stream",
            "Stream an audio file to `ser serve` and print emotion events as they arrive.",
            command => new Options(command),
            StreamFileAsync
        );

    private static async Task<int> StreamFileAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        var path = parse.GetValue(o.File)!;
        var address = new Uri(parse.GetValue(o.Server)!);
        using var reader = AudioFile.Open(path);
        var format = reader.Format;
        if (format.Channels is not (1 or 2))
        {
            throw new ArgumentException(
                $"the server takes 1 or 2 channels; this file has {format.Channels}."
            );
        }
        using var channel = new SerChannel(address, parse.GetValue(o.ApiKey));
        var isFast = parse.GetValue(o.Fast);
        var config = RemoteModels.Config(ModelOptions.Split(parse.GetValue(o.Model)));
        // Fast, the file goes as `ser replay --server` sends it (FLOAT32, half a second a
        // message), so the two place windows alike: the engine cuts windows as audio arrives.
        config.Encoding = isFast ? AudioEncoding.Float32 : AudioEncoding.Linear16;
        config.SampleRateHertz = format.SampleRate;
        config.AudioChannelCount = format.Channels;
        config.InterimResults = !parse.GetValue(o.FinalsOnly);
        // Sent fast, the file is a recording: the server then keeps all of it.
        config.Recorded = isFast;
        var policy = parse.GetValue(o.Reconnect)
            ? new ReconnectPolicy { MaxAttempts = Math.Max(0, parse.GetValue(o.Attempts)) }
            : ReconnectPolicy.None;
        try
        {
            return await RunAsync(
                channel,
                config,
                reader,
                parse.GetValue(o.Json) ? Path.GetFullPath(path) : null,
                parse.GetValue(o.Json),
                isFast,
                policy,
                ct
            );
        }
        catch (RpcException e)
        {
            await Console.Error.WriteLineAsync(ConnectionMessages.Failure(channel, e, policy.MaxAttempts));
            return CliErrors.Failure;
        }
    }

    private static async Task<int> RunAsync(
        SerChannel channel,
        RecognitionConfig config,
        IAudioReader reader,
        string? file,
        bool json,
        bool fast,
        ReconnectPolicy policy,
        CancellationToken ct
    )
    {
        var channels = config.AudioChannelCount;
        // When each chunk's last sample left us (stream seconds, Stopwatch timestamp), for latency.
        var sent = new StreamTimeline();
        var latencies = new List<double>();
        await using var call = await ReconnectingStream.StartAsync(
            channel.Recognizer,
            config,
            policy,
            ConnectionMessages.Reconnected,
            ct,
            r => ConnectionMessages.Retrying(channel, r)
        );
        var printing = Task.Run(() => PrintAsync(call, sent, latencies, json, file), ct);

        var frames = config.SampleRateHertz * (fast ? FastChunkMs : ChunkMs) / 1000;
        var samples = new float[frames * channels];
        var bytes = new byte[samples.Length * (fast ? sizeof(float) : sizeof(short))];
        var started = Stopwatch.GetTimestamp();
        long framesSent = 0;
        int n;
        while ((n = await reader.ReadAsync(samples, ct)) > 0)
        {
            var length = fast
                ? RemoteEvents.ToFloat32(samples.AsSpan(0, n * channels), bytes)
                : RemoteEvents.ToLinear16(samples.AsSpan(0, n * channels), bytes);
            if (!fast)
            {
                var due = framesSent / (double)config.SampleRateHertz;
                var wait = TimeSpan.FromSeconds(due) - Stopwatch.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, ct);
                }
            }
            framesSent += n;
            if (!await call.WriteAsync(bytes.AsMemory(0, length)))
            {
                break;
            }
            sent.Add(framesSent / (double)config.SampleRateHertz, Stopwatch.GetTimestamp());
        }
        await call.CompleteAsync();
        await printing;
        Report(latencies);
        return 0;
    }

    private static async Task PrintAsync(
        ReconnectingStream call,
        StreamTimeline sent,
        List<double> latencies,
        bool json,
        string? file
    )
    {
        var stdout = Console.Out;
        while (await call.ReadAsync() is { } response)
        {
            switch (response.ResponseCase)
            {
                case StreamingRecognizeResponse.ResponseOneofCase.Result:
                    var e = RemoteEvents.ToEvent(response.Result);
                    if (sent.Find(e.EndSeconds) is { } at)
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                    }
                    await stdout.WriteLineAsync(json ? EventJson.ToLine(e, file) : Human(e));
                    break;
                case StreamingRecognizeResponse.ResponseOneofCase.SpeechEvent when !json:
                    var s = response.SpeechEvent;
                    await stdout.WriteLineAsync(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"ch{s.Channel} seg {s.Segment} {(s.Type == Grpc.V1.SpeechEvent.Types.Type.SpeechStart ? "speech start" : "speech end")} at {s.TimeOffsetSeconds:F2} s"
                        )
                    );
                    break;
                case StreamingRecognizeResponse.ResponseOneofCase.StreamStats:
                    var st = response.StreamStats;
                    await Console.Error.WriteLineAsync(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"stats: {st.AudioSeconds:F1} s audio, real-time factor {st.RealTimeFactor:F2}, {st.WindowsClassified} windows, {st.WindowsDropped} dropped, {st.AudioSecondsShed:F1} s of audio shed"
                        )
                    );
                    break;
            }
        }
        await stdout.FlushAsync();
    }

    private static string Human(EmotionEvent e) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"ch{e.Channel}{(e.ChannelName is null ? "" : " " + e.ChannelName)} seg {e.Segment} [{e.StartSeconds:F2}–{e.EndSeconds:F2}] {(e.IsFinal ? "FINAL  " : "interim")} {e.Label} {e.Scores.DefaultIfEmpty(0).Max():F2} (server e2e {e.Latency.EndToEndMs:F0} ms)"
        );

    private static void Report(List<double> latencies)
    {
        if (latencies.Count == 0)
        {
            Console.Error.WriteLine("latency: no results");
            return;
        }
        var sorted = latencies.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        Console.Error.WriteLine(
            string.Create(
                CultureInfo.InvariantCulture,
                $"client latency (last sample sent → event): p50 {P(0.50):F0} ms, p95 {P(0.95):F0} ms over {sorted.Length} results"
            )
        );
    }

    private sealed class Options(Command command)
    {
        public Argument<string> File { get; } =
            command.AddArgument(
                new Argument<string>("file")
                {
                    Description = "Audio file (WAV natively; others through ffmpeg).",
                }
            );

        public Option<string> Server { get; } =
            command.AddOption<string>(
                "--server",
                "Server address (http:// for cleartext HTTP/2, https:// for TLS).",
                "http://127.0.0.1:50051"
            );

        public Option<bool> Json { get; } =
            command.AddOption<bool>("--json", "JSON Lines, the schema of `ser replay`.");

        public Option<bool> Fast { get; } =
            command.AddOption<bool>(
                "--fast",
                "Send as fast as flow control allows, not at real time; the server then keeps every window (the call says it is a recording)."
            );

        public Option<string?> ApiKey { get; } =
            command.AddOption<string?>("--api-key", "Sent as authorization: Bearer <key>.");

        public Option<string?> Model { get; } =
            command.AddOption<string?>(
                "--model",
                "Model id on the server, or several comma-separated (e.g. general6,arousal3a; default: its default set)."
            );

        public Option<bool> FinalsOnly { get; } =
            command.AddOption<bool>("--finals-only", "Ask only for one final result per segment.");

        public Option<bool> Reconnect { get; } =
            command.AddOption<bool>(
                "--reconnect",
                "On UNAVAILABLE (replica stopped, no backend), reconnect with exponential backoff and jitter and go on from the current position; event times stay in the original stream's time."
            );

        public Option<int> Attempts { get; } =
            command.AddOption<int>(
                "--reconnect-attempts",
                "With --reconnect: attempts in a row before giving up.",
                5
            );
    }
}
