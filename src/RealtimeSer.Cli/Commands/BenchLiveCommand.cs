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
    public static Command Create()
    {
        var options = new Options();
        var command = new Command(
            "live",
            "Concurrent live streams paced at real time: latency percentiles, drops, CPU, memory."
        );
        options.AddTo(command);
        command.SetAction((parse, ct) => CliErrors.RunAsync(() => RunAsync(options, parse, ct)));
        return command;
    }

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

    private sealed class Options
    {
        public Argument<string[]> Recordings { get; } = BenchOptions.Recordings();

        public Option<int> Streams { get; } =
            new("--streams")
            {
                Description = "Concurrent streams (one point).",
                DefaultValueFactory = _ => 4,
            };

        public Option<bool> Sweep { get; } =
            new("--sweep")
            {
                Description = "Find the largest stream count that meets the objective with no drops.",
            };

        public Option<double> Seconds { get; } =
            new("--seconds") { Description = "Duration of each point.", DefaultValueFactory = _ => 20 };

        public Option<double> Objective { get; } =
            new("--objective-ms")
            {
                Description = "p95 end-to-end latency objective.",
                DefaultValueFactory = _ => 500,
            };

        public Option<int> MaxStreams { get; } = new("--max-streams") { DefaultValueFactory = _ => 512 };

        public Option<double> MaxBacklog { get; } =
            new("--max-backlog-ms")
            {
                Description =
                    "Live streams skip their oldest audio when more than this waits for the VAD (0: never; the engine's default 400).",
                DefaultValueFactory = _ => 400,
            };

        public Option<int> Batch { get; } = SharedOptions.Batch();

        public Option<string> VadMaxBatch { get; } =
            new("--vad-max-batch")
            {
                Description =
                    "Most VAD frames per Silero run (0: one run per frame); several, comma-separated "
                    + "(e.g. 0,64), are measured in turn, --rounds times, interleaved (A B A B) so both see the same load.",
                DefaultValueFactory = _ => VadBatcher.DefaultMaxBatch.ToString(CultureInfo.InvariantCulture),
            };

        public Option<int> Rounds { get; } =
            new("--rounds")
            {
                Description = "Repeat the --vad-max-batch variants this many times, interleaved.",
                DefaultValueFactory = _ => 1,
            };

        public Option<int> SweepFrom { get; } =
            new("--sweep-from")
            {
                Description = "The sweep's first stream count (it doubles from there, then bisects).",
                DefaultValueFactory = _ => 1,
            };

        public Option<string?> Server { get; } =
            SharedOptions.Server(
                "Measure a running `ser serve` (URL) instead of an in-process engine: the same paced streams over gRPC; latency includes the network."
            );

        public Option<string?> ApiKey { get; } = SharedOptions.ApiKey();

        public Option<string> Output { get; } = BenchOptions.Out("JSON, Markdown and SVG");

        public ModelOptions Model { get; } = new();

        public void AddTo(Command command)
        {
            command.Arguments.Add(Recordings);
            Option[] options =
            [
                Streams,
                Sweep,
                Seconds,
                Objective,
                MaxStreams,
                Batch,
                Server,
                ApiKey,
                Output,
                MaxBacklog,
                VadMaxBatch,
                Rounds,
                SweepFrom,
            ];
            foreach (var option in options)
            {
                command.Options.Add(option);
            }
            Model.AddTo(command);
        }

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
