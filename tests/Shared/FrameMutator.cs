using System.Buffers.Binary;

namespace RealtimeSer.Tests.Shared;

/// <summary>
/// Damages a sequence of gRPC length-prefixed frames the ways a broken or hostile peer would: flags, lengths
/// (slightly off or absurd), garbage payloads, oversize frames, garbage between frames, flipped bits, empty
/// messages, and a stream cut inside a frame. Shared by the pure framing fuzzer and the server fuzzer, which
/// each predict the outcome from the bytes with their own reference reading.
/// </summary>
internal static class FrameMutator
{
    /// <summary>One uncompressed frame around <paramref name="payload"/>.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    /// <summary>
    /// Applies up to <paramref name="maxMutations"/> random mutations to <paramref name="frames"/>, joins
    /// them, and cuts the result short once in <paramref name="truncateOneIn"/> sequences.
    /// </summary>
    public static byte[] Mutate(
        Random random,
        List<byte[]> frames,
        int maxMessage,
        int maxMutations,
        int truncateOneIn
    )
    {
        for (var m = random.Next(maxMutations + 1); m > 0; m--)
        {
            var at = frames.Count == 0 ? 0 : random.Next(frames.Count);
            switch (random.Next(9))
            {
                case 0 when frames.Count > 0 && frames[at].Length >= 5: // compressed or invalid flag
                    frames[at][0] = random.Next(2) == 0 ? (byte)1 : (byte)random.Next(2, 256);
                    break;
                case 1 when frames.Count > 0 && frames[at].Length >= 5: // length off by a little
                    var declared = BinaryPrimitives.ReadUInt32BigEndian(frames[at].AsSpan(1));
                    BinaryPrimitives.WriteUInt32BigEndian(
                        frames[at].AsSpan(1),
                        (uint)Math.Max(0, declared + random.Next(-5, 6))
                    );
                    break;
                case 2 when frames.Count > 0 && frames[at].Length >= 5: // absurd length
                    BinaryPrimitives.WriteUInt32BigEndian(
                        frames[at].AsSpan(1),
                        random.Next(3) switch
                        {
                            0 => uint.MaxValue,
                            1 => (uint)maxMessage + 1,
                            _ => (uint)random.Next(),
                        }
                    );
                    break;
                case 3 when frames.Count > 0: // garbage protobuf, correctly framed
                    frames[at] = Frame(RandomBytes(random, random.Next(0, 64)));
                    break;
                case 4: // an oversize frame with its whole payload
                    frames.Insert(at, Frame(new byte[maxMessage + 1 + random.Next(100)]));
                    break;
                case 5: // garbage between frames
                    frames.Insert(at, RandomBytes(random, random.Next(1, 9)));
                    break;
                case 6 when frames.Count > 0 && frames[at].Length > 0: // flip a bit anywhere in a frame
                    var frame = frames[at];
                    frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 7: // empty message
                    frames.Insert(at, Frame([]));
                    break;
                default:
                    break;
            }
        }
        var bytes = frames.SelectMany(f => f).ToArray();
        if (random.Next(truncateOneIn) == 0 && bytes.Length > 0)
        {
            // The stream ends inside a frame.
            bytes = bytes[..random.Next(bytes.Length)];
        }
        return bytes;
    }

    public static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
