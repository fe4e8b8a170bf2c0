using System.Buffers.Binary;
using System.Net.Sockets;

namespace RealtimeSer.Server.Tests.Robustness;

/// <summary>
/// A client connection handler that counts the DATA bytes the server has sent on each HTTP/2 stream, by
/// parsing the frames as the client reads them off the socket (cleartext HTTP/2: the server's side of the
/// connection is frames from its first byte). A test waits on these counts to know that a stream's flow-control
/// window is full, i.e. that the server's next write waits for the client.
/// </summary>
internal sealed class Http2DataCounter
{
    private readonly Dictionary<int, long> _data = [];

    /// <summary>The most DATA bytes (payload, padding included) received on any one stream so far.</summary>
    public long MaxStreamData
    {
        get
        {
            lock (_data)
            {
                return _data.Count == 0 ? 0 : _data.Values.Max();
            }
        }
    }

    public SocketsHttpHandler CreateHandler() =>
        new()
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new CountingStream(new NetworkStream(socket, ownsSocket: true), this);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };

    private void AddData(int stream, long bytes)
    {
        lock (_data)
        {
            _data[stream] = _data.GetValueOrDefault(stream) + bytes;
        }
    }

    /// <summary>Passes everything through; follows the frame boundaries of what is read.</summary>
    private sealed class CountingStream(Stream inner, Http2DataCounter counter) : Stream
    {
        private readonly byte[] _header = new byte[9];
        private int _headerHave;
        private long _payloadLeft;
        private bool _payloadIsData;
        private int _streamId;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) =>
            inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            Follow(buffer.AsSpan(offset, n));
            return n;
        }

        public override async ValueTask<int> ReadAsync(
            Memory<byte> buffer,
            CancellationToken cancellationToken = default
        )
        {
            var n = await inner.ReadAsync(buffer, cancellationToken);
            Follow(buffer.Span[..n]);
            return n;
        }

        public override Task<int> ReadAsync(
            byte[] buffer,
            int offset,
            int count,
            CancellationToken cancellationToken
        ) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) =>
            inner.Write(buffer, offset, count);

        public override ValueTask WriteAsync(
            ReadOnlyMemory<byte> buffer,
            CancellationToken cancellationToken = default
        ) => inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(
            byte[] buffer,
            int offset,
            int count,
            CancellationToken cancellationToken
        ) => inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();

        private void Follow(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (_payloadLeft > 0)
                {
                    var take = (int)Math.Min(_payloadLeft, bytes.Length);
                    if (_payloadIsData)
                    {
                        counter.AddData(_streamId, take);
                    }
                    _payloadLeft -= take;
                    bytes = bytes[take..];
                    continue;
                }
                var need = Math.Min(_header.Length - _headerHave, bytes.Length);
                bytes[..need].CopyTo(_header.AsSpan(_headerHave));
                _headerHave += need;
                bytes = bytes[need..];
                if (_headerHave == _header.Length)
                {
                    // Length (24 bits), type, flags, stream id (31 bits).
                    _payloadLeft = (_header[0] << 16) | (_header[1] << 8) | _header[2];
                    _payloadIsData = _header[3] == 0;
                    _streamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(5)) & 0x7FFFFFFF);
                    _headerHave = 0;
                }
            }
        }
    }
}
