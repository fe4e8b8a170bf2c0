using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// Lets one cleartext port serve gRPC and browsers. gRPC clients open with the HTTP/2 preface (h2c, prior
/// knowledge); browsers send HTTP/1.1 and cannot do otherwise without TLS. Kestrel does not tell the two apart
/// on one cleartext endpoint (without ALPN it picks HTTP/1.1 for everyone), so the public endpoint stays
/// HTTP/2-only and this connection middleware peeks at the first bytes: the preface goes on to Kestrel's
/// HTTP/2 as before (no extra hop for gRPC); anything else is relayed byte for byte to a loopback-only
/// HTTP/1.1 endpoint of the same application, where the pages and the WebSocket live.
/// </summary>
internal sealed class Http1Relay(Func<int> http1Port)
{
    /// <summary>Set once the host's logging is built (the relay is created before it).</summary>
    public ILogger Logger { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private static readonly byte[] Preface = "PRI "u8.ToArray();
    private static readonly TimeSpan FirstBytesTimeout = TimeSpan.FromSeconds(10);

    public ConnectionDelegate Middleware(ConnectionDelegate next) =>
        async connection =>
        {
            if (await IsHttp2Async(connection))
            {
                await next(connection);
            }
            else
            {
                await RelayAsync(connection);
            }
        };

    /// <summary>Reads until four bytes decide it, leaving them in the pipe for whoever reads next.</summary>
    private static async Task<bool> IsHttp2Async(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(FirstBytesTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Silent for too long: Kestrel's HTTP/2 side owns the error handling of a bad start.
                return true;
            }
            var buffer = result.Buffer;
            if (buffer.Length >= Preface.Length || result.IsCompleted)
            {
                var http2 =
                    buffer.Length >= Preface.Length
                    && buffer.Slice(0, Preface.Length).ToArray().AsSpan().SequenceEqual(Preface);
                input.AdvanceTo(buffer.Start, buffer.Start);
                return http2 || buffer.Length == 0;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task RelayAsync(ConnectionContext connection)
    {
        var token = connection.ConnectionClosed;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
        {
            NoDelay = true,
        };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, http1Port()), token);
        }
        catch (SocketException e)
        {
            ServerLog.RelayFailed(Logger, e.Message);
            return;
        }
        await using var inner = new NetworkStream(socket, ownsSocket: false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        var up = CopyUpAsync(connection.Transport.Input, inner, socket, stop.Token);
        try
        {
            // The inner server ends the exchange (response done, WebSocket closed, or its shutdown).
            await inner.CopyToAsync(connection.Transport.Output, stop.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
            // Either side went away mid-exchange: nothing is left to deliver.
        }
        await stop.CancelAsync();
        await up;
        await connection.Transport.Output.CompleteAsync();
    }

    private static async Task CopyUpAsync(
        PipeReader input,
        Stream inner,
        Socket socket,
        CancellationToken token
    )
    {
        try
        {
            await input.CopyToAsync(inner, token);
            // The browser finished sending: pass the half-close on so the inner server sees it.
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e)
            when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException
            ) { }
    }
}
