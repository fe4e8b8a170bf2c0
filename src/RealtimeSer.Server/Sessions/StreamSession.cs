using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>
/// One live stream's life after admission, the same for every transport (gRPC <c>StreamingRecognize</c>, the
/// browser's WebSocket): the engine stream and its dashboard entry, audio in (the byte limit, decoding), events
/// and periodic stats out through one sender, the end and its errors. A transport is an adapter
/// (<see cref="IStreamTransport"/>): it reads its wire's audio and writes its wire's messages, nothing else.
/// </summary>
internal sealed class StreamSession(SessionServices services, IStreamTransport transport)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    /// <summary>
    /// Runs the stream to its end. Throws <see cref="RpcException"/> with the status the client should see (a
    /// model failure as INTERNAL with a generic message, shutdown as UNAVAILABLE); the transport puts it on its
    /// wire. <paramref name="callToken"/> ends when the client goes away.
    /// </summary>
    public async Task RunAsync(StreamSetup setup, string id, CancellationToken callToken)
    {
        await using var stream = setup.Engine.OpenStream(id, setup.Format, setup.Options);
        using var tracked = services.Registry.Register(stream, setup.Engine, transport.Source);
        ServerLog.StreamOpened(
            services.Logger,
            id,
            setup.Encoding.ToString(),
            setup.SampleRate,
            setup.Channels,
            setup.Engine.Classifier.Manifest.Id
        );
        Exception? error = null;
        try
        {
            await PumpAsync(setup, stream, tracked, callToken);
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            ServerLog.StreamEnded(
                services.Logger,
                id,
                transport.StatusName(error),
                stream.SecondsReceived,
                stream.WindowsClassified,
                stream.WindowsDropped
            );
            _sendLock.Dispose();
        }
    }

    private async Task PumpAsync(
        StreamSetup setup,
        EngineStream stream,
        TrackedStream tracked,
        CancellationToken callToken
    )
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(
            callToken,
            services.Lifetime.HardStop
        );
        var token = cancel.Token;
        var started = Stopwatch.GetTimestamp();
        await SendAsync(() => transport.SendReadyAsync(stream, setup, token), token);
        var forward = ForwardEventsAsync(stream, tracked, cancel);
        using var statsStop = CancellationTokenSource.CreateLinkedTokenSource(token);
        var stats = SendStatsAsync(stream, started, statsStop.Token, token);
        var decoder = setup.CreateDecoder();
        var maxBytes = (long)(services.Options.MaxStreamSeconds * setup.SampleRate) * decoder.BytesPerFrame;
        long received = 0;
        try
        {
            while (await transport.ReadAudioAsync(token) is { } bytes)
            {
                received += bytes.Length;
                if (received > maxBytes)
                {
                    throw new RpcException(
                        new Status(
                            StatusCode.OutOfRange,
                            $"Stream longer than the server's limit of {services.Options.MaxStreamSeconds:F0} s of audio; start a new stream."
                        )
                    );
                }
                // Messages may split a sample anywhere; the decoder carries the partial frame over.
                var samples = decoder.Decode(bytes.Span);
                if (!samples.IsEmpty)
                {
                    await stream.WriteAsync(samples, cancellationToken: token);
                }
            }
            decoder.EnsureWholeFrames();
            await stream.CompleteAsync(token);
            await forward;
            await statsStop.CancelAsync();
            await SwallowAsync(stats);
            await SendAsync(
                () => transport.SendStatsAsync(stream, Stopwatch.GetElapsedTime(started), final: true, token),
                token
            );
            await transport.EndAsync(token);
        }
        catch (Exception e)
        {
            await cancel.CancelAsync();
            await SwallowAsync(stats);
            try
            {
                await forward;
            }
            catch (RpcException) when (e is OperationCanceledException)
            {
                // The events side failed first (a model failure, a client that stopped reading): its reason is
                // the stream's.
                throw;
            }
            catch (Exception fe) when (fe is OperationCanceledException or RpcException) { }
            if (
                e is OperationCanceledException
                && services.Lifetime.HardStop.IsCancellationRequested
                && !callToken.IsCancellationRequested
            )
            {
                throw new RpcException(
                    new Status(
                        StatusCode.Unavailable,
                        "The server is shutting down; reconnect to another instance."
                    )
                );
            }
            throw;
        }
    }

    private async Task ForwardEventsAsync(
        EngineStream stream,
        TrackedStream tracked,
        CancellationTokenSource cancel
    )
    {
        var token = cancel.Token;
        try
        {
            await foreach (var e in stream.Events.ReadAllAsync(token))
            {
                tracked.Observe(e);
                if (e is StreamFailedEvent)
                {
                    throw InferenceFailure.Stream();
                }
                await SendAsync(() => transport.SendEventAsync(e, token), token);
            }
        }
        catch (Exception e) when (e is not RpcException and not OperationCanceledException)
        {
            await cancel.CancelAsync();
            if (!transport.IsTransportFailure(e))
            {
                // The stream's channel completes with the model's error: keep its detail off the wire.
                ServerLog.Unexpected(services.Logger, e);
                throw InferenceFailure.Stream();
            }
            throw;
        }
        catch (RpcException)
        {
            await cancel.CancelAsync();
            throw;
        }
    }

    /// <summary>
    /// Periodic stats until <paramref name="stop"/>, which ends only the wait for the next tick: a send under way
    /// finishes, so a normal end's final stats and close are not cut short. <paramref name="token"/> is the
    /// stream's own, for real failures.
    /// </summary>
    private async Task SendStatsAsync(
        EngineStream stream,
        long started,
        CancellationToken stop,
        CancellationToken token
    )
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(services.Options.StatsIntervalSeconds));
        while (await timer.WaitForNextTickAsync(stop))
        {
            await SendAsync(
                () =>
                    transport.SendStatsAsync(stream, Stopwatch.GetElapsedTime(started), final: false, token),
                token
            );
        }
    }

    /// <summary>
    /// One message at a time on the transport. <paramref name="token"/> ends only the wait for the turn; the
    /// send itself is bounded by the event delivery timeout, past which the transport is aborted and the stream
    /// ends as unread.
    /// </summary>
    private async Task SendAsync(Func<Task> send, CancellationToken token)
    {
        await _sendLock.WaitAsync(token);
        try
        {
            await services.Delivery.WithinBoundAsync(send(), transport.Source, transport.Abort);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private static async Task SwallowAsync(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException) { }
    }
}

/// <summary>What every session of this server shares.</summary>
internal sealed record SessionServices(
    ModelRegistry Models,
    ServerOptions Options,
    ServerLifetime Lifetime,
    StreamAdmission Admission,
    StreamRegistry Registry,
    EventDelivery Delivery,
    ILogger Logger
);

/// <summary>
/// A live stream's wire, as <see cref="StreamSession"/> drives it. Sends are never concurrent (the session
/// serialises them); reads run beside them.
/// </summary>
internal interface IStreamTransport
{
    /// <summary>The dashboard's and the metrics' name for it: "grpc" or "browser".</summary>
    string Source { get; }

    /// <summary>The next audio bytes, or null once the client has ended its audio.</summary>
    ValueTask<ReadOnlyMemory<byte>?> ReadAudioAsync(CancellationToken token);

    /// <summary>Before any event: what the client is told the stream is (nothing, for gRPC).</summary>
    Task SendReadyAsync(EngineStream stream, StreamSetup setup, CancellationToken token);

    /// <summary>A speech boundary or an emotion result.</summary>
    Task SendEventAsync(EngineEvent e, CancellationToken token);

    Task SendStatsAsync(EngineStream stream, TimeSpan elapsed, bool final, CancellationToken token);

    /// <summary>After the final stats of a normal end (the WebSocket's close; nothing, for gRPC).</summary>
    Task EndAsync(CancellationToken token);

    /// <summary>Ends the wire at once: a send that would not complete (the client stopped reading).</summary>
    void Abort();

    /// <summary>Whether an error is the wire failing (the client went away) rather than the engine.</summary>
    bool IsTransportFailure(Exception e);

    /// <summary>The status the log records for how the stream ended.</summary>
    string StatusName(Exception? error);
}
