using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using RealtimeSer.Cli.Bench;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Core.Vad.Batching;
using RealtimeSer.Grpc;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser bench live</c>: concurrent live streams paced at real time, in process or against a server.</summary>
internal static class BenchLiveCommand
{
    public static Command Create() =>
        CliCommand.Create(
            "live",
            "Concurrent live streams paced at real time: latency percentiles, drops, CPU, memory.",
            command => new Options(command),
            RunAsync
        );

    private static async Task<int> RunAsync(Options o, ParseResult parse, CancellationToken ct)
    {
        var server = parse.GetValue(o.Server);
        var audio = await PipelineBench.LoadAsync(
            BenchOptions.Recordings(parse.GetValue(o.Recordings))[0],
            ct
        );
        var writer = new BenchWriter(parse.GetValue(o.Output)!);
        if (server is not null)
        {
            using var channel = new SerChannel(new Uri(server), parse.GetValue(o.ApiKey));
            RemoteLiveBench remote;
            try
            {
                remote = await RemoteLiveBench.ConnectAsync(
                    channel.Recognizer,
                    server,
                    parse.GetValue(o.Model.Model) ?? "",
                    audio,
                    ct
                );
            }
            catch (Exception e) when (e is RpcException or HttpRequestException)
            {
                await Console.Error.WriteLineAsync(
                    $"ser: error: cannot use the server at {server}: {(e is RpcException g ? $"{g.StatusCode}: {g.Status.Detail}" : e.Message)}"
                );
                return CliErrors.Failure;
            }
            writer.Live(await LiveSweep.RunAsync(remote, o.Settings(parse), ct));
            return 0;
        }
        using var classifier = o.Model.Load(parse);
        using var vad = SileroVadModel.Load();
        writer.Live(await LiveSweep.RunAsync(new LiveBench(classifier, vad, audio), o.Settings(parse), ct));
        return 0;
    }

    private sealed class Options(Command command)
    {
        public Argument<string[]> Recordings { get; } = command.AddArgument(BenchOptions.Recordings());

        public Option<int> Streams { get; } =
            command.AddOption<int>("--streams", "Concurrent streams (one point).", 4).AtLeast(1);

        public Option<bool> Sweep { get; } =
            command.AddOption<bool>(
                "--sweep",
                "Find the largest stream count that meets the objective with no drops."
            );

        public Option<double> Seconds { get; } =
            command.AddOption<double>("--seconds", "Duration of each point.", 20);

        public Option<double> Objective { get; } =
            command.AddOption<double>("--objective-ms", "p95 end-to-end latency objective.", 500);

        public Option<int> MaxStreams { get; } = command.AddOption<int>("--max-streams", null, 512);

        public Option<int> Batch { get; } = command.AddOption(SharedOptions.Batch());

        public Option<string?> Server { get; } =
            command.AddOption(
                SharedOptions.Server(
                    "Measure a running `ser serve` (URL) instead of an in-process engine: the same paced streams over gRPC; latency includes the network."
                )
            );

        public Option<string?> ApiKey { get; } = command.AddOption(SharedOptions.ApiKey());

        public Option<string> Output { get; } = command.AddOption(BenchOptions.Out("JSON, Markdown and SVG"));

        public Option<double> MaxBacklog { get; } =
            command.AddOption<double>(
                "--max-backlog-ms",
                "Live streams skip their oldest audio when more than this waits for the VAD (0: never; the engine's default 400).",
                400
            );

        public Option<string> VadMaxBatch { get; } =
            command
                .AddOption<string>(
                    "--vad-max-batch",
                    "Most VAD frames per Silero run (0: one run per frame); several, comma-separated "
                        + "(e.g. 0,64), are measured in turn, --rounds times, interleaved (A B A B) so both see the same load.",
                    VadBatcher.DefaultMaxBatch.ToString(CultureInfo.InvariantCulture)
                )
                .NumberList(0, whole: true, "0,64");

        public Option<int> Rounds { get; } =
            command.AddOption<int>(
                "--rounds",
                "Repeat the --vad-max-batch variants this many times, interleaved.",
                1
            );

        public Option<int> SweepFrom { get; } =
            command.AddOption<int>(
                "--sweep-from",
                "The sweep's first stream count (it doubles from there, then bisects).",
                1
            );

        public ModelOptions Model { get; } = command.AddModelOptions();

        public LiveSettings Settings(ParseResult parse) =>
            new(
                parse.GetValue(Streams),
                parse.GetValue(Sweep),
                parse.GetValue(SweepFrom),
                parse.GetValue(MaxStreams),
                TimeSpan.FromSeconds(parse.GetValue(Seconds)),
                parse.GetValue(Objective),
                BenchOptions.Integers(parse.GetValue(VadMaxBatch)!),
                parse.GetValue(Rounds),
                new EngineOptions
                {
                    MaxBatch = parse.GetValue(Batch),
                    QueueCapacity = 64 * parse.GetValue(Batch),
                    MaxBatchDelay = TimeSpan.FromMilliseconds(10),
                    MaxBacklogSeconds = Math.Max(0, parse.GetValue(MaxBacklog)) / 1000,
                }
            );
    }
}
