using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Pipelines;
using Google.Protobuf;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Grpc.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of the gRPC length-prefixed framing (<see cref="GrpcFraming.ReadMessageAsync"/>)
/// on a <see cref="PipeReader"/> fed in random chunks (frames split anywhere and merged): bad lengths,
/// compressed and invalid flags, oversize frames, truncation, garbage protobuf. Each case is checked against
/// a plain reference decoder: the same messages in the same order, then the same end (clean or the same
/// status code), never another exception, within a time and allocation bound.
/// REALTIMESER_FUZZ_CASES sets the count (default 5 000; the full run is 100 000).
/// </summary>
public sealed class FramingFuzzTests(ITestOutputHelper output)
{
    private const int DefaultCases = 5_000;
    private const int MaxMessage = 4096;

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("REALTIMESER_FUZZ_CASES"), out var n) && n > 0
            ? n
            : DefaultCases;

    private static int Seed =>
        int.TryParse(Environment.GetEnvironmentVariable("REALTIMESER_FUZZ_SEED"), out var s) ? s : 8_2024;

    [Fact]
    public async Task Mutated_frame_sequences_decode_exactly_like_the_reference_or_fail_with_the_right_status()
    {
        int cases = Cases,
            seed = Seed;
        var outcomes = new Dictionary<string, int>();
        long maxAllocated = 0;
        var slowest = TimeSpan.Zero;
        var total = Stopwatch.StartNew();
        for (var i = 0; i < cases; i++)
        {
            var random = new Random(unchecked(seed * 1_000_003 + i));
            var bytes = MutatedSequence(random);
            var expected = Reference(bytes, MaxMessage);
            var chunks = Chunks(random, bytes.Length);
            var reader = PipeReader.Create(
                new ChunkedStream(bytes, chunks),
                new StreamPipeReaderOptions(bufferSize: 1 + random.Next(8192), minimumReadSize: 1)
            );
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var started = Stopwatch.GetTimestamp();
            var got = new List<StreamingRecognizeRequest>();
            GrpcStatusCode? end;
            try
            {
                while (
                    await reader.ReadMessageAsync(StreamingRecognizeRequest.Parser, MaxMessage, default)
                        is { } message
                )
                {
                    got.Add(message);
                    Assert.True(got.Count <= expected.Messages.Count, $"case {i}: more messages than sent");
                }
                end = null;
            }
            catch (GrpcException e)
            {
                end = e.Code;
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException(
                    $"case {i} (seed {seed}): {e.GetType().Name} escaped the framing: {e}"
                );
            }
            var elapsed = Stopwatch.GetElapsedTime(started);
            var delta = GC.GetAllocatedBytesForCurrentThread() - allocated;
            await reader.CompleteAsync();
            Assert.True(
                expected.Messages.SequenceEqual(got),
                $"case {i} (seed {seed}): {got.Count} messages, expected {expected.Messages.Count}"
            );
            Assert.True(
                end == expected.End,
                $"case {i} (seed {seed}): ended with {end?.ToString() ?? "clean end"}, expected {expected.End?.ToString() ?? "clean end"}"
            );
            Assert.True(
                elapsed < TimeSpan.FromSeconds(1),
                $"case {i} took {elapsed.TotalMilliseconds:F0} ms"
            );
            // Messages are copied out of the pipe once; beyond that only the pipe's pooled blocks.
            Assert.True(
                delta <= 4L * bytes.Length + 128 * 1024,
                $"case {i} (seed {seed}) allocated {delta} bytes for {bytes.Length} input bytes"
            );
            maxAllocated = Math.Max(maxAllocated, delta - 2L * bytes.Length);
            slowest = elapsed > slowest ? elapsed : slowest;
            var key = end?.ToString() ?? "clean end";
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
        }
        output.WriteLine(
            $"framing fuzz: {cases} sequences (seed {seed}) in {total.Elapsed.TotalSeconds:F1} s: "
                + string.Join(", ", outcomes.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))
                + $"; slowest {slowest.TotalMilliseconds:F2} ms, largest allocation beyond 2× input {maxAllocated / 1024.0:F1} KiB"
        );
        Assert.True(outcomes.GetValueOrDefault("clean end") > cases / 20);
        Assert.True(outcomes.GetValueOrDefault(nameof(GrpcStatusCode.Internal)) > cases / 20);
        Assert.True(outcomes.GetValueOrDefault(nameof(GrpcStatusCode.ResourceExhausted)) > cases / 50);
    }

    internal sealed record Expected(List<StreamingRecognizeRequest> Messages, GrpcStatusCode? End);

    /// <summary>The reference: a straightforward decoder of the whole byte array.</summary>
    internal static Expected Reference(byte[] bytes, int maxMessage)
    {
        var messages = new List<StreamingRecognizeRequest>();
        var at = 0;
        while (true)
        {
            if (at == bytes.Length)
            {
                return new(messages, null);
            }
            if (bytes.Length - at < 5)
            {
                return new(messages, GrpcStatusCode.Internal);
            }
            if (bytes[at] != 0)
            {
                return new(messages, GrpcStatusCode.Internal);
            }
            var length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 1));
            if (length > (uint)maxMessage)
            {
                return new(messages, GrpcStatusCode.ResourceExhausted);
            }
            if (bytes.Length - at - 5 < length)
            {
                return new(messages, GrpcStatusCode.Internal);
            }
            try
            {
                messages.Add(StreamingRecognizeRequest.Parser.ParseFrom(bytes, at + 5, (int)length));
            }
            catch (InvalidProtocolBufferException)
            {
                return new(messages, GrpcStatusCode.Internal);
            }
            at += 5 + (int)length;
        }
    }

    internal static byte[] MutatedSequence(Random random)
    {
        var frames = new List<byte[]>();
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

    private static int[] Chunks(Random random, int length)
    {
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
        return [.. chunks];
    }

    /// <summary>Returns the bytes in the given chunk sizes, one chunk per read, like a network stream.</summary>
    private sealed class ChunkedStream(byte[] data, int[] chunks) : Stream
    {
        private int _position;
        private int _chunk;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_chunk >= chunks.Length)
            {
                return 0;
            }
            var n = Math.Min(buffer.Length, chunks[_chunk]);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            chunks[_chunk] -= n;
            if (chunks[_chunk] == 0)
            {
                _chunk++;
            }
            return n;
        }

        public override ValueTask<int> ReadAsync(
            Memory<byte> buffer,
            CancellationToken cancellationToken = default
        ) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(
            byte[] buffer,
            int offset,
            int count,
            CancellationToken cancellationToken
        ) => Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
