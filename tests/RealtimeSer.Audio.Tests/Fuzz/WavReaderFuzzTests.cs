using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace RealtimeSer.Audio.Tests.Fuzz;

/// <summary>
/// Seeded generate-and-mutate fuzzing of <see cref="WavReader"/>: every case must give audio or an
/// <see cref="AudioFormatException"/> — never another exception, a hang, or more than a small allocation.
/// REALTIMESER_FUZZ_CASES sets the case count (default 5 000; the full run is 100 000); REALTIMESER_FUZZ_SEED
/// replays a run. A failure names the case index, so <c>Case(seed, index)</c> rebuilds the exact bytes.
/// </summary>
public sealed class WavReaderFuzzTests(ITestOutputHelper output)
{
    private const int DefaultCases = 5_000;
    private const int Warmup = 300;

    // A hang detector, not a speed test: CI runs the test assemblies in parallel on 2 cores, where a GC pause
    // or a starved thread can hold one sub-millisecond case for over a second.
    private static readonly TimeSpan PerCaseLimit = TimeSpan.FromSeconds(5);

    /// <summary>Bytes a case may allocate beyond its input: header parsing, an exception, the pooled block.</summary>
    private const long AllocationAllowance = 256 * 1024;

    internal static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("REALTIMESER_FUZZ_CASES"), out var n) && n > 0
            ? n
            : DefaultCases;

    internal static int Seed =>
        int.TryParse(Environment.GetEnvironmentVariable("REALTIMESER_FUZZ_SEED"), out var s) ? s : 8_2024;

    [Fact]
    public async Task Generated_and_mutated_WAV_files_give_audio_or_AudioFormatException_quickly_and_cheaply()
    {
        int cases = Cases,
            seed = Seed;
        var current = -1;
        var results = new int[3]; // audio, format error, streamed (pipe-like) reads
        long maxAllocated = 0,
            maxTicks = 0;
        var run = Task.Run(() =>
        {
            var destination = new float[8192];
            // Negative cases warm up (first exceptions, pool blocks, JIT) and are not counted or measured.
            for (var i = -Warmup; i < cases; i++)
            {
                Volatile.Write(ref current, i);
                var random = new Random(unchecked(seed * 1_000_003 + i));
                var bytes = Case(random);
                var trickle = random.Next(4) == 0;
                var chunk = 1 + random.Next(64);
                var readAsync = random.Next(4) == 0;
                // The first pass checks the outcome; the second measures steady-state cost (pooled
                // buffers already rented once, so a leak or a per-case allocation shows, warm-up does not).
                var (audio, _, _) = ReadCase(i, seed, bytes, trickle, chunk, readAsync, destination);
                var (_, delta, elapsed) = ReadCase(i, seed, bytes, trickle, chunk, readAsync, destination);
                if (i < 0)
                {
                    continue;
                }
                results[audio ? 0 : 1]++;
                if (trickle)
                {
                    results[2]++;
                }
                maxTicks = Math.Max(maxTicks, elapsed);
                maxAllocated = Math.Max(maxAllocated, delta - bytes.Length);
                Assert.True(
                    Stopwatch.GetElapsedTime(0, elapsed) < PerCaseLimit,
                    $"case {i} (seed {seed}) took {Stopwatch.GetElapsedTime(0, elapsed).TotalMilliseconds:F0} ms"
                );
                Assert.True(
                    delta <= AllocationAllowance + bytes.Length,
                    $"case {i} (seed {seed}) allocated {delta} bytes for a {bytes.Length}-byte file"
                );
            }
        });
        var limit = TimeSpan.FromSeconds(30 + cases / 1000.0 * 2);
        if (await Task.WhenAny(run, Task.Delay(limit)) != run)
        {
            Assert.Fail(
                $"hang: case {Volatile.Read(ref current)} (seed {seed}) did not finish within {limit}"
            );
        }
        await run;
        output.WriteLine(
            $"WAV fuzz: {cases} cases (seed {seed}): {results[0]} read as audio, {results[1]} AudioFormatException, "
                + $"{results[2]} through a non-seekable trickle stream; slowest case {Stopwatch.GetElapsedTime(0, maxTicks).TotalMilliseconds:F2} ms, "
                + $"largest allocation beyond the input {maxAllocated / 1024.0:F1} KiB"
        );
        Assert.True(results[0] > cases / 20, "the generator should still produce readable files");
        Assert.True(results[1] > cases / 20, "the mutator should still produce broken files");
    }

    private static (bool Audio, long Allocated, long Ticks) ReadCase(
        int i,
        int seed,
        byte[] bytes,
        bool trickle,
        int chunk,
        bool readAsync,
        float[] destination
    )
    {
        var stream = trickle
            ? new TrickleStream(bytes, chunk)
            : (Stream)new MemoryStream(bytes, writable: false);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        bool audio;
        try
        {
            using var reader = new WavReader(stream, "fuzz.wav");
            long samples = 0;
            int n;
            while (
                (
                    n = readAsync
                        ? reader.ReadAsync(destination).AsTask().GetAwaiter().GetResult()
                        : reader.Read(destination)
                ) > 0
            )
            {
                samples += n * reader.Format.Channels;
                if (samples > bytes.Length)
                {
                    throw new Xunit.Sdk.XunitException(
                        $"case {i}: {samples} samples from a {bytes.Length}-byte file"
                    );
                }
                foreach (var x in destination.AsSpan(0, n * reader.Format.Channels))
                {
                    if (x is not (>= -1f and <= 1f))
                    {
                        throw new Xunit.Sdk.XunitException($"case {i}: sample {x} outside [-1, 1]");
                    }
                }
            }
            audio = true;
        }
        catch (AudioFormatException)
        {
            audio = false;
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException(
                $"case {i} (seed {seed}): {e.GetType().Name} instead of audio or AudioFormatException: {e}"
            );
        }
        var ticks = Stopwatch.GetTimestamp() - started;
        return (audio, GC.GetAllocatedBytesForCurrentThread() - allocated, ticks);
    }

    private static readonly (ushort Tag, int Bits)[] Encodings =
    [
        (1, 8),
        (1, 16),
        (1, 24),
        (1, 32),
        (3, 32),
        (3, 64),
        (6, 8),
        (7, 8),
        (1, 12),
        (2, 4),
        (0x55, 0),
        (3, 16),
    ];

    private static readonly int[] Rates = [8000, 16000, 44100, 48000, 0, 1, 999, 384_001, int.MaxValue, -1];

    private static readonly int[] ChannelCounts = [1, 2, 1, 2, 6, 32, 0, 33, 65535];

    /// <summary>A generated file (mostly valid), then zero to four mutations.</summary>
    internal static byte[] Case(Random random)
    {
        var builder = new WavBuilder();
        var (tag, bits) = Encodings[random.Next(Encodings.Length)];
        var channels =
            random.Next(3) == 0 ? ChannelCounts[random.Next(ChannelCounts.Length)] : 1 + random.Next(2);
        var rate = random.Next(3) == 0 ? Rates[random.Next(Rates.Length)] : 16000;
        var rf64 = random.Next(10) == 0;
        for (var c = random.Next(3); c > 0; c--)
        {
            builder.Chunk(RandomId(random), RandomBytes(random, random.Next(0, 40)));
        }
        if (rf64)
        {
            var ds64 = RandomBytes(random, random.Next(2) == 0 ? 28 : random.Next(40));
            builder.Chunk("ds64", ds64);
        }
        if (random.Next(8) == 0)
        {
            builder.FmtExtensible(
                random.Next(2) == 0 ? WavBuilder.PcmSubFormat : WavBuilder.FloatSubFormat,
                Math.Clamp(channels, 0, 65535),
                rate,
                bits,
                random.Next(3) == 0 ? random.Next(0, 70) : bits
            );
        }
        else
        {
            builder.Fmt(
                tag,
                Math.Clamp(channels, 0, 65535),
                rate,
                bits,
                random.Next(10) == 0 ? random.Next(0, 600) : null
            );
        }
        if (random.Next(10) == 0)
        {
            builder.Fmt(1, 1, 8000, 16); // a second fmt chunk
        }
        for (var c = random.Next(2); c > 0; c--)
        {
            builder.Chunk(RandomId(random), RandomBytes(random, random.Next(0, 9)));
        }
        var data = RandomBytes(random, random.Next(0, 4097));
        if (tag == 3 && random.Next(2) == 0)
        {
            // Float data full of NaN, infinities and huge values.
            for (var o = 0; o + 4 <= data.Length; o += 4)
            {
                var value = random.Next(4) switch
                {
                    0 => float.NaN,
                    1 => float.PositiveInfinity,
                    2 => float.NegativeInfinity,
                    _ => 1e30f,
                };
                BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(o), value);
            }
        }
        builder.Data(data);
        if (random.Next(3) == 0)
        {
            builder.Chunk(RandomId(random), RandomBytes(random, random.Next(0, 100)));
        }
        builder.DataSizeOverride = random.Next(6) switch
        {
            0 => 0u,
            1 => uint.MaxValue,
            2 => (uint)random.Next(),
            3 => (uint)data.Length + 1,
            _ => null,
        };
        builder.RiffSizeOverride = random.Next(8) switch
        {
            0 => 0u,
            1 => uint.MaxValue,
            2 => (uint)random.Next(),
            _ => null,
        };
        var bytes = builder.Build();
        if (rf64)
        {
            Encoding.ASCII.GetBytes("RF64").CopyTo(bytes, 0);
        }
        return Mutate(random, bytes);
    }

    private static byte[] Mutate(Random random, byte[] bytes)
    {
        var list = new List<byte>(bytes);
        for (var m = random.Next(5); m > 0 && list.Count > 0; m--)
        {
            var at = random.Next(list.Count);
            switch (random.Next(8))
            {
                case 0: // flip a byte, most often in the header
                    at = random.Next(Math.Min(list.Count, random.Next(2) == 0 ? 80 : list.Count));
                    list[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // truncate
                    list.RemoveRange(at, list.Count - at);
                    break;
                case 2: // an absurd 32-bit value (a chunk size, a rate) at a header offset
                    at = random.Next(Math.Min(list.Count, 80));
                    var value = random.Next(4) switch
                    {
                        0 => uint.MaxValue,
                        1 => 0x8000_0000u,
                        2 => 0u,
                        _ => (uint)random.Next(),
                    };
                    for (var k = 0; k < 4 && at + k < list.Count; k++)
                    {
                        list[at + k] = (byte)(value >> (8 * k));
                    }
                    break;
                case 3: // insert garbage (odd sizes shift every later chunk)
                    list.InsertRange(at, RandomBytes(random, random.Next(1, 12)));
                    break;
                case 4: // delete a few bytes
                    list.RemoveRange(at, Math.Min(list.Count - at, random.Next(1, 8)));
                    break;
                case 5: // insert a chunk with a huge declared size
                    var header = new byte[8];
                    Encoding.ASCII.GetBytes(RandomId(random)).CopyTo(header, 0);
                    BinaryPrimitives.WriteUInt32LittleEndian(
                        header.AsSpan(4),
                        random.Next(2) == 0 ? uint.MaxValue - (uint)random.Next(3) : (uint)random.Next()
                    );
                    list.InsertRange(Math.Min(list.Count, 12 + random.Next(40)), header);
                    break;
                case 6: // duplicate a stretch
                    var length = Math.Min(list.Count - at, random.Next(1, 64));
                    list.InsertRange(at, list.GetRange(at, length));
                    break;
                default: // leave it alone
                    break;
            }
        }
        return [.. list];
    }

    private static readonly string[] Ids =
    [
        "LIST",
        "fact",
        "junk",
        "PAD ",
        "data",
        "fmt ",
        "ds64",
        "bext",
        "\0\0\0\0",
    ];

    private static string RandomId(Random random) => Ids[random.Next(Ids.Length)];

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
