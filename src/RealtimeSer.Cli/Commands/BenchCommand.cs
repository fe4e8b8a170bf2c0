using System.CommandLine;
using System.Diagnostics;
using RealtimeSer.Audio;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench ...</c>: benchmarks that print numbers (never timed unit tests).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks: print measured costs.");
        command.Subcommands.Add(CreateVad());
        command.Subcommands.Add(BenchModelCommand.Create());
        command.Subcommands.Add(BenchPipelineCommand.Create());
        command.Subcommands.Add(BenchLiveCommand.Create());
        return command;
    }

    private static Command CreateVad()
    {
        var file = new Argument<string?>("file")
        {
            Description = "Audio to score (default: 60 s of generated noise bursts).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Audio seconds to score (the file is looped or cut).",
            DefaultValueFactory = _ => 60,
        };
        var batches = new Option<string>("--batches")
        {
            Description =
                "Also score frames of this many streams per model run (as the engine's VAD batcher does), comma-separated; empty skips it.",
            DefaultValueFactory = _ => "1,4,16,64",
        };
        var command = new Command("vad", "Silero VAD cost per 32 ms frame on one thread.")
        {
            file,
            seconds,
            batches,
        };
        command.SetAction(
            (parse, ct) =>
                CliErrors.RunAsync(async () =>
                {
                    var audio = await LoadAudioAsync(parse.GetValue(file), parse.GetValue(seconds), ct);
                    using var model = SileroVadModel.Load(
                        options: new OnnxSessionOptions { IntraOpThreads = 1, InterOpThreads = 1 }
                    );
                    var events = new List<VadEvent>();
                    // Warm up: first runs pay for allocations inside ONNX Runtime.
                    new StreamingVad(model).Process(audio.AsSpan(0, Math.Min(audio.Length, 16000)), events);

                    var vad = new StreamingVad(model);
                    var frames = audio.Length / SileroVadModel.FrameSamples;
                    var timer = Stopwatch.StartNew();
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    vad.Process(audio.AsSpan(0, frames * SileroVadModel.FrameSamples), events);
                    timer.Stop();
                    var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                    var perFrameMs = timer.Elapsed.TotalMilliseconds / frames;
                    Console.WriteLine(
                        $"vad: {frames} frames of 32 ms in {timer.Elapsed.TotalSeconds:F2} s: "
                            + $"{perFrameMs:F3} ms/frame wall, {cpuUsed.TotalMilliseconds / frames:F3} ms/frame CPU, "
                            + $"{32.0 / perFrameMs:F0}x real time per thread ({OnnxRuntime.Version}, 1 thread)"
                    );
                    foreach (var size in ParseBatches(parse.GetValue(batches)))
                    {
                        ct.ThrowIfCancellationRequested();
                        var (wallMs, cpuMs, scored) = MeasureBatch(model, audio, size);
                        Console.WriteLine(
                            $"vad batch {size, 2}: {scored} frames: {wallMs * 1000:F0} µs/frame wall, {cpuMs * 1000:F0} µs/frame CPU, "
                                + $"{32.0 / wallMs:F0}x real time per thread"
                        );
                    }
                    return 0;
                })
        );
        return command;
    }

    private static IEnumerable<int> ParseBatches(string? list) =>
        (list ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s =>
                int.TryParse(s, out var b) && b is >= 1 and <= 4096
                    ? b
                    : throw new ArgumentException($"--batches takes sizes from 1 to 4096; got '{s}'.")
            );

    /// <summary>
    /// Scores the audio as <paramref name="size"/> streams, each starting at its own point of it, one model run
    /// per round of frames: per-frame wall and CPU time in ms, and the frames scored.
    /// </summary>
    private static (double WallMs, double CpuMs, int Frames) MeasureBatch(
        SileroVadModel model,
        float[] audio,
        int size
    )
    {
        const int n = SileroVadModel.FrameSamples;
        var available = audio.Length / n;
        var states = Enumerable.Range(0, size).Select(_ => new SileroVadState()).ToArray();
        var batch = new SileroVadBatch(size);
        var frames = new float[size * n];
        var probabilities = new float[size];
        // About as many frames at every size (at least a few runs), so each size costs about the same time.
        var rounds = Math.Max(8, available / size);
        void Round(int r)
        {
            for (var b = 0; b < size; b++)
            {
                var frame = (r + b * available / size) % available;
                audio.AsSpan(frame * n, n).CopyTo(frames.AsSpan(b * n));
            }
            batch.Run(model, states, frames, probabilities);
        }
        for (var r = 0; r < Math.Min(rounds, 4); r++)
        {
            Round(r); // warm-up: ORT plans its buffers for this batch size
        }
        var timer = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var r = 0; r < rounds; r++)
        {
            Round(r);
        }
        timer.Stop();
        var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var scored = rounds * size;
        return (timer.Elapsed.TotalMilliseconds / scored, cpuUsed.TotalMilliseconds / scored, scored);
    }

    private static async Task<float[]> LoadAudioAsync(string? path, double seconds, CancellationToken ct)
    {
        var wanted = (int)(seconds * StreamNormalizer.TargetRate);
        var audio = new float[wanted];
        if (path is null)
        {
            // Speech-like on/off noise bursts so both branches of the segmenter are exercised.
            var random = new Random(1);
            for (var i = 0; i < wanted; i++)
            {
                var on = i / 8000 % 3 != 0;
                audio[i] = on ? (float)((random.NextDouble() * 2 - 1) * 0.3) : 0f;
            }
            return audio;
        }
        using var reader = AudioFile.Open(path);
        var normalizer = new StreamNormalizer(
            reader.Format.SampleRate,
            reader.Format.Channels,
            ChannelMode.Mix
        );
        var block = new float[reader.Format.SampleRate / 10 * reader.Format.Channels];
        var filled = 0;
        int frames;
        while (filled < wanted && (frames = await reader.ReadAsync(block, ct)) > 0)
        {
            normalizer.Process(block.AsSpan(0, frames * reader.Format.Channels));
            var output = normalizer.Output(0);
            var take = Math.Min(output.Length, wanted - filled);
            output[..take].CopyTo(audio.AsSpan(filled));
            filled += take;
        }
        if (filled == 0)
        {
            throw new InvalidDataException($"{path} holds no audio.");
        }
        for (var i = filled; i < wanted; i++)
        {
            audio[i] = audio[i % filled];
        }
        return audio;
    }
}
