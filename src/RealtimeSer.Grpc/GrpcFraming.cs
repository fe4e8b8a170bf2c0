using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace RealtimeSer.Grpc;

/// <summary>
/// Length-prefixed messages on a pipe: one compressed-flag byte, a big-endian uint32 length, the protobuf
/// bytes. Messages are parsed straight from the pipe's buffers (no copy, no allocation beyond the message).
/// </summary>
public static class GrpcFraming
{
    /// <summary>
    /// Takes one complete frame off the front of <paramref name="buffer"/>: true with its payload when a whole
    /// frame is there, false when more bytes are needed. Throws <see cref="GrpcException"/> for frames that
    /// can never be accepted (oversize, compressed, bad flag).
    /// </summary>
    public static bool TryReadFrame(
        ref ReadOnlySequence<byte> buffer,
        int maxMessageSize,
        out ReadOnlySequence<byte> payload
    )
    {
        payload = default;
        if (buffer.Length < GrpcProtocol.HeaderSize)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[GrpcProtocol.HeaderSize];
        buffer.Slice(0, GrpcProtocol.HeaderSize).CopyTo(header);
        switch (header[0])
        {
            case 0:
                break;
            case 1:
                // We advertise and accept only identity, so a compressed message is one we cannot read.
                throw new GrpcException(
                    GrpcStatusCode.Internal,
                    "Compressed message received but only grpc-encoding 'identity' is supported."
                );
            default:
                throw new GrpcException(
                    GrpcStatusCode.Internal,
                    "Invalid compressed flag in message header."
                );
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxMessageSize)
        {
            throw new GrpcException(
                GrpcStatusCode.ResourceExhausted,
                $"Received message of {length} bytes exceeds the limit of {maxMessageSize} bytes."
            );
        }
        if (buffer.Length - GrpcProtocol.HeaderSize < length)
        {
            return false;
        }
        payload = buffer.Slice(GrpcProtocol.HeaderSize, length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    /// <summary>
    /// Reads the next message, or null when the peer half-closed cleanly between messages.
    /// A stream that ends inside a frame is an INTERNAL error.
    /// </summary>
    public static async ValueTask<T?> ReadMessageAsync<T>(
        this PipeReader reader,
        MessageParser<T> parser,
        int maxMessageSize,
        CancellationToken cancellationToken
    )
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(parser);
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var consumed = false;
            try
            {
                if (result.IsCanceled)
                {
                    throw new OperationCanceledException("Read cancelled.", cancellationToken);
                }
                if (TryReadFrame(ref buffer, maxMessageSize, out var payload))
                {
                    consumed = true;
                    try
                    {
                        return parser.ParseFrom(payload);
                    }
                    catch (InvalidProtocolBufferException e)
                    {
                        throw new GrpcException(
                            new GrpcStatus(GrpcStatusCode.Internal, "Malformed message: " + e.Message)
                        );
                    }
                }
                if (result.IsCompleted)
                {
                    if (buffer.IsEmpty)
                    {
                        return null;
                    }
                    throw new GrpcException(
                        GrpcStatusCode.Internal,
                        "Incomplete message: the stream ended inside a frame."
                    );
                }
            }
            finally
            {
                if (consumed)
                {
                    reader.AdvanceTo(buffer.Start);
                }
                else
                {
                    // Nothing usable yet: wait for more bytes before the next read returns.
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
    }

    /// <summary>Writes one framed message into the pipe's buffer (no flush).</summary>
    public static void WriteMessage(this PipeWriter writer, IMessage message)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(message);
        var length = message.CalculateSize();
        var header = writer.GetSpan(GrpcProtocol.HeaderSize);
        header[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)length);
        writer.Advance(GrpcProtocol.HeaderSize);
        if (length > 0)
        {
            message.WriteTo(writer.GetSpan(length)[..length]);
            writer.Advance(length);
        }
    }

    /// <summary>Writes one framed message and flushes it to the peer.</summary>
    public static async ValueTask WriteMessageAsync(
        this PipeWriter writer,
        IMessage message,
        CancellationToken cancellationToken
    )
    {
        writer.WriteMessage(message);
        var flush = await writer.FlushAsync(cancellationToken);
        if (flush.IsCanceled)
        {
            throw new OperationCanceledException("Write cancelled.", cancellationToken);
        }
    }
}
