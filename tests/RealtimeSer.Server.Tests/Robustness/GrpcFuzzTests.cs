using System.Buffers.Binary;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// Mutated request byte streams against the running server over real HTTP/2 on loopback: bad lengths,
/// frames split anywhere and merged, compressed and invalid flags, oversize, truncation, garbage protobuf,
/// garbage configs. Each call must end with exactly the status a reference reading of the bytes predicts,
/// the server must keep serving (a health check after every batch), and nothing may leak (no admitted or
/// engine stream left, the active-streams gauge back to 0). The bulk of the framing cases runs against the
/// pure framing functions (RealtimeSer.Grpc.Tests, FramingFuzzTests); REALTIMESER_FUZZ_CASES scales both.
/// </summary>
[Collection(RobustnessCollection.Name)]
public sealed class GrpcFuzzTests(ITestOutputHelper output)
{
    private const int MaxMessage = 8192;
    private const double MaxStreamSeconds = 0.5;
    private const long MaxHeapGrowthBytes = 64L << 20;

    [SkippableFact]
    public async Task Mutated_request_streams_end_with_the_predicted_status_and_the_server_keeps_serving()
    {
        // A tenth of the opt-in case count goes through the server (10 000 of 100 000); 600 by default.
        var cases = Math.Max(600, Frames.CasesFromEnvironment(6_000) / 10);
        await using var server = await TestServer.StartAsync(o =>
        {
            o.MaxMessageBytes = MaxMessage;
            o.MaxStreamSeconds = MaxStreamSeconds;
            o.MaxConcurrentStreams = 64;
        });
        using var raw = new RawGrpcClient(server.Server.Address);
        var outcomes = new Dictionary<StatusCode, int>();
        var mismatches = new List<string>();
        var calmed = 0;
        var before = ResourceSample.Take();
        var clock = Stopwatch.StartNew();
        const int batch = 200;
        for (var first = 0; first < cases; first += batch)
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(first, Math.Min(batch, cases - first)),
                new ParallelOptions { MaxDegreeOfParallelism = 8 },
                async (i, _) =>
                {
                    var random = new Random(unchecked(8_2024 * 1_000_003 + i));
                    var body = MutatedStream(random);
                    var expected = Predict(body, server.Server);
                    using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                    var status = await raw.CallAsync(
                        EmotionService.StreamingRecognizePath,
                        Chunks(random, body),
                        cancel.Token
                    );
                    lock (outcomes)
                    {
                        outcomes[status.StatusCode] = outcomes.GetValueOrDefault(status.StatusCode) + 1;
                        if (IsKestrelCalmDown(status))
                        {
                            calmed++;
                        }
                        else if (status.StatusCode != expected)
                        {
                            mismatches.Add($"case {i}: {status} but expected {expected}");
                        }
                    }
                }
            );
            Assert.Equal(
                global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
                await server.CheckAsync()
            );
        }
        var elapsed = clock.Elapsed;
        await server.WaitForNoStreamsAsync();
        var after = ResourceSample.Take();
        output.WriteLine(
            $"server fuzz: {cases} mutated request streams in {elapsed.TotalSeconds:F1} s over HTTP/2: "
                + string.Join(", ", outcomes.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))
                + $"; {mismatches.Count} mismatches; {calmed} refused by Kestrel's reset-flood guard; "
                + $"before {before}; after {after}"
        );
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches.Take(20)));
        Assert.True(calmed <= cases / 100, $"{calmed} of {cases} calls refused with ENHANCE_YOUR_CALM");
        Assert.Equal(0, server.Server.LiveStreams);
        Assert.Equal(0, server.Engine.ActiveStreams);
        Assert.True(outcomes.Count >= 5, "the mutator should reach OK and several error codes");
        // Bounded by design: resampler tables (16 MiB shared, odd rates per stream) and the engine's buffer
        // pool; the unbounded resampler cache of odd rates once left 300 MiB here after 600 calls.
        Assert.True(
            after.HeapBytes - before.HeapBytes < MaxHeapGrowthBytes,
            $"heap grew {(after.HeapBytes - before.HeapBytes) / 1048576.0:F1} MiB over {cases} calls"
        );
    }

    [SkippableFact]
    public async Task Protocol_violations_outside_the_body_get_their_spec_status()
    {
        await using var server = await TestServer.StartAsync();
        using var raw = new RawGrpcClient(server.Server.Address);
        var valid = new ReadOnlyMemory<byte>[]
        {
            Frames.Of(new StreamingRecognizeRequest { Config = Frames.MulawMono() }),
        };
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var text = await raw.CallAsync(
            EmotionService.StreamingRecognizePath,
            valid,
            cancel.Token,
            "text/plain"
        );
        Assert.Equal("HTTP 415", text.Detail);

        // A compressed message in an encoding the server lacks: UNIMPLEMENTED (the spec); gzip is accepted.
        var compressed = Frames.Of(new StreamingRecognizeRequest { Config = Frames.MulawMono() });
        compressed[0] = 1;
        raw.Headers["grpc-encoding"] = "snappy";
        Assert.Equal(
            StatusCode.Unimplemented,
            (
                await raw.CallAsync(EmotionService.StreamingRecognizePath, [compressed], cancel.Token)
            ).StatusCode
        );
        raw.Headers.Clear();
        raw.Headers["grpc-timeout"] = "soon";
        Assert.Equal(
            StatusCode.Internal,
            (await raw.CallAsync(EmotionService.StreamingRecognizePath, valid, cancel.Token)).StatusCode
        );
        raw.Headers.Clear();
        Assert.Equal(
            StatusCode.Unimplemented,
            (await raw.CallAsync("/realtime_ser.v1.EmotionRecognizer/Nope", valid, cancel.Token)).StatusCode
        );
        // Garbage to the unary and health methods.
        var garbage = new ReadOnlyMemory<byte>[] { new byte[] { 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF } };
        Assert.Equal(
            StatusCode.Internal,
            (await raw.CallAsync(EmotionService.RecognizePath, garbage, cancel.Token)).StatusCode
        );
        Assert.Equal(
            StatusCode.Internal,
            (await raw.CallAsync(HealthService.CheckPath, garbage, cancel.Token)).StatusCode
        );
        Assert.Equal(
            global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
            await server.CheckAsync()
        );
        await server.WaitForNoStreamsAsync();
    }

    /// <summary>
    /// Kestrel's HTTP/2 guard (CVE-2023-44487): when a connection holds more than twice its stream limit of
    /// streams the server has answered but whose request bodies the client is still sending, further streams
    /// are reset with ENHANCE_YOUR_CALM. The fuzzer, eight error-ending calls at a time on one connection,
    /// trips it in rare bursts (46 of 100 000 calls in one run, none in the next); that is the transport
    /// refusing an abusive client, not a wrong status, and is allowed up to 1 % of calls.
    /// </summary>
    internal static bool IsKestrelCalmDown(Status status) =>
        status.StatusCode == StatusCode.Unavailable
        && status.Detail.Contains("ENHANCE_YOUR_CALM", StringComparison.Ordinal);

    /// <summary>What the server must answer, from a plain reading of the bytes and the same config rules.</summary>
    private static StatusCode Predict(byte[] body, SerServer server)
    {
        var at = 0;
        var index = 0;
        long audio = 0,
            maxAudio = 0;
        var bytesPerFrame = 1;
        while (true)
        {
            if (at == body.Length)
            {
                // Audio that ends inside a frame is the client's error, named in INVALID_ARGUMENT.
                return index == 0 || audio % bytesPerFrame != 0 ? StatusCode.InvalidArgument : StatusCode.OK;
            }
            // Grpc.AspNetCore's order: an invalid flag, then the size limit, then a compressed message that
            // names no grpc-encoding.
            if (body.Length - at < 5 || body[at] > 1)
            {
                return StatusCode.Internal;
            }
            var length = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(at + 1));
            if (length > MaxMessage)
            {
                return StatusCode.ResourceExhausted;
            }
            if (body[at] == 1)
            {
                return StatusCode.Internal;
            }
            if (body.Length - at - 5 < length)
            {
                return StatusCode.Internal;
            }
            StreamingRecognizeRequest request;
            try
            {
                request = StreamingRecognizeRequest.Parser.ParseFrom(body, at + 5, (int)length);
            }
            catch (InvalidProtocolBufferException)
            {
                return StatusCode.Internal;
            }
            if (index == 0)
            {
                if (request.RequestCase != StreamingRecognizeRequest.RequestOneofCase.Config)
                {
                    return StatusCode.InvalidArgument;
                }
                try
                {
                    var setup = StreamSetup.From(request.Config, server.Models, server.Options);
                    bytesPerFrame = setup.CreateDecoder().BytesPerFrame;
                    maxAudio = (long)(server.Options.MaxStreamSeconds * setup.SampleRate) * bytesPerFrame;
                }
                catch (global::Grpc.Core.RpcException)
                {
                    return StatusCode.InvalidArgument;
                }
            }
            else
            {
                if (request.RequestCase != StreamingRecognizeRequest.RequestOneofCase.AudioContent)
                {
                    return StatusCode.InvalidArgument;
                }
                audio += request.AudioContent.Length;
                if (audio > maxAudio)
                {
                    return StatusCode.OutOfRange;
                }
            }
            at += 5 + (int)length;
            index++;
        }
    }

    private static byte[] MutatedStream(Random random)
    {
        var frames = new List<byte[]>();
        var config = Frames.MulawMono();
        switch (random.Next(6))
        {
            case 0:
                config.SampleRateHertz = random.Next(-10, 100_000);
                break;
            case 1:
                config.AudioChannelCount = random.Next(-1, 4);
                config.Encoding = (AudioEncoding)random.Next(6);
                break;
            case 2:
                config.WindowSeconds = random.NextDouble() * 12 - 1;
                config.HopSeconds = random.NextDouble() * 3 - 0.5;
                config.SmoothingSeconds = random.Next(3) == 0 ? double.NaN : random.NextDouble() * 40 - 5;
                break;
            case 3:
                config.Vad = new VadConfig
                {
                    StartThreshold = (float)(random.NextDouble() * 1.4 - 0.2),
                    EndThreshold = (float)(random.NextDouble() * 1.4 - 0.2),
                    MinSpeechMs = random.Next(-100, 5000),
                    MinSilenceMs = random.Next(-100, 5000),
                    SpeechPadMs = random.Next(-100, 1000),
                };
                break;
            case 4:
                config.Model = random.Next(2) == 0 ? "fake" : "no-such-model";
                config.ChannelNames.Add("a");
                if (random.Next(2) == 0)
                {
                    config.ChannelNames.Add("b");
                }
                break;
            default:
                break;
        }
        if (random.Next(12) != 0)
        {
            frames.Add(Frames.Of(new StreamingRecognizeRequest { Config = config }));
        }
        for (var n = random.Next(0, 4); n > 0; n--)
        {
            var audio = new byte[random.Next(0, 2500)];
            random.NextBytes(audio);
            frames.Add(
                Frames.Of(
                    random.Next(15) == 0
                        ? new StreamingRecognizeRequest { Config = config }
                        : new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(audio) }
                )
            );
        }
        return FrameMutator.Mutate(random, frames, MaxMessage, maxMutations: 2, truncateOneIn: 8);
    }

    private static List<ReadOnlyMemory<byte>> Chunks(Random random, byte[] body)
    {
        var chunks = new List<ReadOnlyMemory<byte>>();
        var tiny = body.Length < 200 && random.Next(3) == 0;
        for (var at = 0; at < body.Length; )
        {
            var size = Math.Min(body.Length - at, tiny ? 1 : 1 + random.Next(random.Next(2) == 0 ? 9 : 4000));
            chunks.Add(body.AsMemory(at, size));
            at += size;
        }
        return chunks;
    }
}
