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
/// HTTP/2 directly (no extra hop for gRPC); anything else is relayed byte for byte to a loopback-only
/// HTTP/1.1 endpoint of the same application, where the pages and the WebSocket live.
/// </summary>
internal sealed class Http1Relay(Func<int> http1Port, TimeSpan firstBytesTimeout)
{
    /// <summary>Set once the host's logging is built (the relay is created before it).</summary>
    public ILogger Logger { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private static readonly byte[] Preface = "PRI "u8.ToArray();

    /// <summary>Relays HTTP/1.1 connections and closes silent ones.</summary>
    public ConnectionDelegate Middleware(ConnectionDelegate next) => Guard(next, relay: true);

    /// <summary>
    /// Only closes silent connections: for a port without the relay (TLS, where ALPN picks the protocol, or
    /// the web turned off). Put it before TLS, where the first bytes are the client's hello.
    /// </summary>
    public ConnectionDelegate SilenceGuard(ConnectionDelegate next) => Guard(next, relay: false);

    private ConnectionDelegate Guard(ConnectionDelegate next, bool relay) =>
        async connection =>
        {
            switch (await FirstBytesAsync(connection))
            {
                case Start.Http2:
                    await next(connection);
                    break;
                case Start.Other when relay:
                    await RelayAsync(connection);
                    break;
                case Start.Other:
                    await next(connection);
                    break;
                default:
                    // Nothing within the bound (or the client left): a connection that never speaks only
                    // holds a socket. Closing it here covers HTTP/2 too, whose preface Kestrel waits for
                    // without a limit of its own.
                    connection.Abort(new ConnectionAbortedException("no request within the silence bound"));
                    break;
            }
        };

    private enum Start
    {
        Http2,
        Other,
        Silent,
    }

    /// <summary>Reads until four bytes decide it, leaving them in the pipe for whoever reads next.</summary>
    private async Task<Start> FirstBytesAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(firstBytesTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return Start.Silent;
            }
            var buffer = result.Buffer;
            if (buffer.Length >= Preface.Length || result.IsCompleted)
            {
                var http2 =
                    buffer.Length >= Preface.Length
                    && buffer.Slice(0, Preface.Length).ToArray().AsSpan().SequenceEqual(Preface);
                input.AdvanceTo(buffer.Start, buffer.Start);
                return http2 ? Start.Http2
                    : buffer.Length == 0 ? Start.Silent
                    : Start.Other;
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
