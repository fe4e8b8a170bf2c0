using System.IO.Compression;
using Grpc.Core;
using Grpc.Net.Compression;

namespace RealtimeSer.Server;

/// <summary>
/// gzip for request and response messages, with the decompressed size held to the message limit: the
/// library checks the limit against the compressed length only, so a few kilobytes of gzip could otherwise
/// inflate to gigabytes in memory.
/// </summary>
internal sealed class BoundedGzipProvider(Func<int> maxMessageBytes) : ICompressionProvider
{
    public string EncodingName => "gzip";

    public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) =>
        new GZipStream(stream, compressionLevel ?? CompressionLevel.Fastest, leaveOpen: true);

    public Stream CreateDecompressionStream(Stream stream) =>
        new BoundedReadStream(new GZipStream(stream, CompressionMode.Decompress), maxMessageBytes());

    /// <summary>Reads through to <paramref name="inner"/> and fails once more than <paramref name="limit"/> bytes came out.</summary>
    private sealed class BoundedReadStream(Stream inner, int limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            _read += n;
            if (_read > limit)
            {
                throw new RpcException(
                    new Status(
                        StatusCode.ResourceExhausted,
                        $"Decompressed message exceeds the limit of {limit} bytes."
                    )
                );
            }
            return n;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
