using System.CommandLine;
using System.Diagnostics;
using RealtimeSer.Audio;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Vad;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench ...</c>: benchmarks that print numbers (never timed unit tests).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks: print measured costs.");
        command.Subcommands.Add(CreateVad());
        command.Subcommands.Add(BenchModelCommands.CreateModel());
        command.Subcommands.Add(BenchModelCommands.CreatePipeline());
        command.Subcommands.Add(BenchModelCommands.CreateLive());
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
        var command = new Command("vad", "Silero VAD cost per 32 ms frame on one thread.") { file, seconds };
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
                    return 0;
                })
        );
        return command;
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
