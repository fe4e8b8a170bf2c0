using System.Buffers.Binary;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// Seeded mutation fuzzing of the gRPC length-prefixed framing as the server reads it, through raw HTTP/2
/// requests sent in random chunks (frames split anywhere, a byte at a time, merged): bad lengths, compressed
/// and invalid flags, oversize frames, truncation, garbage protobuf. Each case is checked against a plain
/// reference decoder and the service's rules: the same status, and for a stream that ends OK, exactly the
/// audio the reference decoded (the final StreamStats). The server keeps serving and nothing leaks.
/// REALTIMESER_FUZZ_CASES sets the count (default 5 000; the full run is 100 000).
/// </summary>
[Collection(RobustnessCollection.Name)]
public sealed class FramingFuzzTests(ITestOutputHelper output)
{
    private const int DefaultCases = 5_000;
    private const int MaxMessage = 4096;

    /// <summary>Odd rates count received audio after resampling, to a sample or so; a lost message is far more.</summary>
    private const double AudioTolerance = 1e-3;

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("REALTIMESER_FUZZ_CASES"), out var n) && n > 0
            ? n
            : DefaultCases;

    private static int Seed =>
        int.TryParse(Environment.GetEnvironmentVariable("REALTIMESER_FUZZ_SEED"), out var s) ? s : 8_2024;

    [SkippableFact]
    public async Task Mutated_frame_sequences_end_like_the_reference_decoder_says_and_the_server_keeps_serving()
    {
        int cases = Cases,
            seed = Seed;
        await using var server = await TestServer.StartAsync(o =>
        {
            o.MaxMessageBytes = MaxMessage;
            o.MaxConcurrentStreams = 64;
            // Audio arrives as fast as the fuzzer sends it: shedding is expected, refusing for it is not the point.
            o.AdaptiveAdmission = false;
        });
        using var raw = new RawGrpcClient(server.Server.Address);
        var outcomes = new Dictionary<StatusCode, int>();
        var mismatches = new List<string>();
        var calmed = 0;
        var total = Stopwatch.StartNew();
        const int batch = 200;
        for (var first = 0; first < cases; first += batch)
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(first, Math.Min(batch, cases - first)),
                new ParallelOptions { MaxDegreeOfParallelism = 8 },
                async (i, _) =>
                {
                    var random = new Random(unchecked(seed * 1_000_003 + i));
                    var bytes = MutatedSequence(random);
                    var expected = Expect(Reference(bytes), server.Server);
                    using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                    var (status, body) = await raw.CallWithBodyAsync(
                        EmotionService.StreamingRecognizePath,
                        Chunks(random, bytes),
                        cancel.Token
                    );
                    var mismatch =
                        status.StatusCode != expected.Code ? $"{status} but expected {expected.Code}"
                        : expected.Code == StatusCode.OK
                        && AudioSeconds(body) is var heard
                        && Math.Abs(heard - expected.AudioSeconds) > AudioTolerance
                            ? $"{heard} s of audio heard, {expected.AudioSeconds} s sent"
                        : null;
                    lock (outcomes)
                    {
                        outcomes[status.StatusCode] = outcomes.GetValueOrDefault(status.StatusCode) + 1;
                        if (GrpcFuzzTests.IsKestrelCalmDown(status))
                        {
                            calmed++;
                        }
                        else if (mismatch is not null)
                        {
                            mismatches.Add($"case {i} (seed {seed}): {mismatch}");
                        }
                    }
                }
            );
            Assert.Equal(
                global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
                await server.CheckAsync()
            );
        }
        await server.WaitForNoStreamsAsync();
        output.WriteLine(
            $"framing fuzz over HTTP/2: {cases} sequences (seed {seed}) in {total.Elapsed.TotalSeconds:F1} s: "
                + string.Join(", ", outcomes.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))
                + $"; {mismatches.Count} mismatches; {calmed} refused by Kestrel's reset-flood guard"
        );
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches.Take(20)));
        Assert.True(calmed <= cases / 100, $"{calmed} of {cases} calls refused with ENHANCE_YOUR_CALM");
        Assert.True(outcomes.GetValueOrDefault(StatusCode.OK) > cases / 20);
        Assert.True(outcomes.GetValueOrDefault(StatusCode.Internal) > cases / 20);
        Assert.True(outcomes.GetValueOrDefault(StatusCode.ResourceExhausted) > cases / 50);
        Assert.Equal(0, server.Server.LiveStreams);
    }

    internal sealed record Decoded(List<StreamingRecognizeRequest> Messages, StatusCode? End);

    internal sealed record Expected(StatusCode Code, double AudioSeconds);

    /// <summary>The reference: a straightforward decoder of the whole byte array, in the library's order of checks.</summary>
    internal static Decoded Reference(byte[] bytes)
    {
        var messages = new List<StreamingRecognizeRequest>();
        var at = 0;
        while (true)
        {
            if (at == bytes.Length)
            {
                return new(messages, null);
            }
            if (bytes.Length - at < 5 || bytes[at] > 1)
            {
                return new(messages, StatusCode.Internal);
            }
            var length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 1));
            if (length > MaxMessage)
            {
                return new(messages, StatusCode.ResourceExhausted);
            }
            if (bytes[at] == 1 || bytes.Length - at - 5 < length)
            {
                // A compressed message with no grpc-encoding, or the stream ending inside a frame.
                return new(messages, StatusCode.Internal);
            }
            try
            {
                messages.Add(StreamingRecognizeRequest.Parser.ParseFrom(bytes, at + 5, (int)length));
            }
            catch (InvalidProtocolBufferException)
            {
                return new(messages, StatusCode.Internal);
            }
            at += 5 + (int)length;
        }
    }

    /// <summary>The service's rules over the decoded messages, in the order it reads them.</summary>
    private static Expected Expect(Decoded decoded, SerServer server)
    {
        double seconds = 0;
        double bytesPerSecond = 0;
        long bytes = 0;
        var bytesPerFrame = 1;
        for (var i = 0; i < decoded.Messages.Count; i++)
        {
            var message = decoded.Messages[i];
            if (i == 0)
            {
                if (message.RequestCase != StreamingRecognizeRequest.RequestOneofCase.Config)
                {
                    return new(StatusCode.InvalidArgument, 0);
                }
                try
                {
                    var setup = StreamSetup.From(message.Config, server.Models, server.Options);
                    bytesPerFrame = setup.CreateDecoder().BytesPerFrame;
                    bytesPerSecond = (double)setup.SampleRate * bytesPerFrame;
                }
                catch (RpcException)
                {
                    return new(StatusCode.InvalidArgument, 0);
                }
            }
            else if (message.RequestCase != StreamingRecognizeRequest.RequestOneofCase.AudioContent)
            {
                return new(StatusCode.InvalidArgument, 0);
            }
            else
            {
                seconds += message.AudioContent.Length / bytesPerSecond;
                bytes += message.AudioContent.Length;
            }
        }
        // Audio that ends inside a frame is the client's error, named in INVALID_ARGUMENT.
        return decoded.End is { } end ? new(end, 0)
            : decoded.Messages.Count == 0 || bytes % bytesPerFrame != 0 ? new(StatusCode.InvalidArgument, 0)
            : new(StatusCode.OK, seconds);
    }

    /// <summary>The audio seconds of the last StreamStats in a response body.</summary>
    private static double AudioSeconds(byte[] body)
    {
        double seconds = -1;
        for (var at = 0; at + 5 <= body.Length; )
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(at + 1));
            var response = StreamingRecognizeResponse.Parser.ParseFrom(body, at + 5, length);
            if (response.StreamStats is { } stats)
            {
                seconds = stats.AudioSeconds;
            }
            at += 5 + length;
        }
        return seconds;
    }

    internal static byte[] MutatedSequence(Random random)
    {
        var frames = new List<byte[]>();
        if (random.Next(6) != 0)
        {
            frames.Add(
                FrameMutator.Frame(
                    new StreamingRecognizeRequest { Config = Frames.MulawMono() }.ToByteArray()
                )
            );
        }
        for (var n = random.Next(0, 6); n > 0; n--)
        {
            IMessage message =
                random.Next(3) == 0
                    ? new StreamingRecognizeRequest
                    {
                        Config = new RecognitionConfig
                        {
                            Encoding = (AudioEncoding)random.Next(5),
                            SampleRateHertz = random.Next(0, 50000),
                            AudioChannelCount = random.Next(3),
                            InterimResults = random.Next(2) == 0,
                        },
                    }
                    : new StreamingRecognizeRequest
                    {
                        AudioContent = ByteString.CopyFrom(
                            FrameMutator.RandomBytes(random, random.Next(0, 3000))
                        ),
                    };
            frames.Add(FrameMutator.Frame(message.ToByteArray()));
        }
        return FrameMutator.Mutate(random, frames, MaxMessage, maxMutations: 3, truncateOneIn: 6);
    }

    private static List<ReadOnlyMemory<byte>> Chunks(Random random, byte[] bytes)
    {
        var length = bytes.Length;
        var chunks = new List<int>();
        var style = random.Next(4);
        if (style == 0 && length > 400)
        {
            style = 2; // a byte at a time only for short sequences: the point is the header splits
        }
        for (var left = length; left > 0; )
        {
            var size = style switch
            {
                0 => 1, // a byte at a time
                1 => length, // everything at once (frames merged)
                2 => random.Next(2) == 0 ? 1 + random.Next(7) : 1 + random.Next(3000), // split inside headers
                _ => 1 + random.Next(5000),
            };
            size = Math.Min(size, left);
            chunks.Add(size);
            left -= size;
        }
        var memory = new List<ReadOnlyMemory<byte>>();
        var at = 0;
        foreach (var size in chunks)
        {
            memory.Add(bytes.AsMemory(at, size));
            at += size;
        }
        return memory;
    }
}
