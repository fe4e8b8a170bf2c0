using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Grpc.Tests;

public sealed class FramingTests
{
    private static byte[] Frame(IMessage message)
    {
        var pipe = new Pipe();
        pipe.Writer.WriteMessage(message);
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out var result);
        var bytes = result.Buffer.ToArray();
        pipe.Reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }

    private static StreamingRecognizeRequest Audio(int n) =>
        new() { AudioContent = ByteString.CopyFrom(Enumerable.Range(0, n).Select(i => (byte)i).ToArray()) };

    private static async Task<List<StreamingRecognizeRequest>> ReadAllAsync(Pipe pipe, int max = 1 << 20)
    {
        var list = new List<StreamingRecognizeRequest>();
        while (await pipe.Reader.ReadMessageAsync(StreamingRecognizeRequest.Parser, max, default) is { } m)
        {
            list.Add(m);
        }
        return list;
    }

    [Fact]
    public void Frame_has_flag_zero_and_big_endian_length()
    {
        var message = Audio(300);
        var bytes = Frame(message);
        Assert.Equal(0, bytes[0]);
        Assert.Equal(
            message.CalculateSize(),
            (bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]
        );
        Assert.Equal(5 + message.CalculateSize(), bytes.Length);
    }

    [Fact]
    public async Task Merged_frames_in_one_write_are_read_one_by_one()
    {
        var pipe = new Pipe();
        var all = Frame(Audio(10)).Concat(Frame(Audio(0))).Concat(Frame(Audio(70000))).ToArray();
        // The reader runs alongside: a write above the pipe's pause threshold waits for it.
        var reader = ReadAllAsync(pipe);
        await pipe.Writer.WriteAsync(all);
        await pipe.Writer.CompleteAsync();
        var messages = await reader;
        Assert.Equal([10, 0, 70000], messages.Select(m => m.AudioContent.Length));
    }

    [Fact]
    public async Task Frames_split_at_every_byte_are_reassembled()
    {
        var pipe = new Pipe();
        var all = Frame(Audio(33))
            .Concat(
                Frame(
                    new StreamingRecognizeRequest
                    {
                        Config = new RecognitionConfig { SampleRateHertz = 8000 },
                    }
                )
            )
            .ToArray();
        var reader = ReadAllAsync(pipe);
        foreach (var b in all)
        {
            await pipe.Writer.WriteAsync(new[] { b });
        }
        await pipe.Writer.CompleteAsync();
        var messages = await reader;
        Assert.Equal(2, messages.Count);
        Assert.Equal(33, messages[0].AudioContent.Length);
        Assert.Equal(8000, messages[1].Config.SampleRateHertz);
    }

    [Fact]
    public async Task Stream_ending_inside_a_frame_is_internal()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Frame(Audio(100)).AsMemory(0, 50));
        await pipe.Writer.CompleteAsync();
        var e = await Assert.ThrowsAsync<GrpcException>(() => ReadAllAsync(pipe));
        Assert.Equal(GrpcStatusCode.Internal, e.Code);
    }

    [Fact]
    public async Task Stream_ending_inside_a_header_is_internal()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0, 0, 0 });
        await pipe.Writer.CompleteAsync();
        var e = await Assert.ThrowsAsync<GrpcException>(() => ReadAllAsync(pipe));
        Assert.Equal(GrpcStatusCode.Internal, e.Code);
    }

    [Fact]
    public async Task Oversize_message_is_resource_exhausted_before_its_body_arrives()
    {
        var pipe = new Pipe();
        // Header only, announcing 2 MB: refused without waiting for the bytes.
        await pipe.Writer.WriteAsync(new byte[] { 0, 0, 0x20, 0, 0 });
        var e = await Assert.ThrowsAsync<GrpcException>(() => ReadAllAsync(pipe, max: 1 << 20));
        Assert.Equal(GrpcStatusCode.ResourceExhausted, e.Code);
    }

    [Fact]
    public async Task Length_above_int_range_is_resource_exhausted()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0, 0xFF, 0xFF, 0xFF, 0xFF });
        var e = await Assert.ThrowsAsync<GrpcException>(() => ReadAllAsync(pipe));
        Assert.Equal(GrpcStatusCode.ResourceExhausted, e.Code);
    }

    [Fact]
    public async Task Compressed_flag_is_refused()
    {
        var pipe = new Pipe();
        var frame = Frame(Audio(4));
        frame[0] = 1;
        await pipe.Writer.WriteAsync(frame);
        await pipe.Writer.CompleteAsync();
        var e = await Assert.ThrowsAsync<GrpcException>(() => ReadAllAsync(pipe));
        Assert.Equal(GrpcStatusCode.Internal, e.Code);
        Assert.Contains("identity", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_flag_is_internal()
    {
        var pipe = new Pipe();
        var frame = Frame(Audio(4));
        frame[0] = 7;
        await pipe.Writer.WriteAsync(frame);
        var e = await Assert.ThrowsAsync<GrpcException>(() => ReadAllAsync(pipe));
        Assert.Equal(GrpcStatusCode.Internal, e.Code);
    }

    [Fact]
    public async Task Malformed_protobuf_is_internal()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0, 0, 0, 0, 2, 0xFF, 0xFF });
        await pipe.Writer.CompleteAsync();
        var e = await Assert.ThrowsAsync<GrpcException>(() => ReadAllAsync(pipe));
        Assert.Equal(GrpcStatusCode.Internal, e.Code);
    }

    [Fact]
    public void TryReadFrame_needs_whole_frame_and_slices_it_off()
    {
        var bytes = Frame(Audio(20));
        var partial = new ReadOnlySequence<byte>(bytes.AsMemory(0, bytes.Length - 1));
        Assert.False(GrpcFraming.TryReadFrame(ref partial, 1000, out _));
        var whole = new ReadOnlySequence<byte>(bytes.Concat(new byte[] { 9 }).ToArray());
        Assert.True(GrpcFraming.TryReadFrame(ref whole, 1000, out var payload));
        Assert.Equal(bytes.Length - 5, payload.Length);
        Assert.Equal(1, whole.Length);
    }
}
