using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using RealtimeSer.Core.Output;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc.V1;
using CoreSpeech = RealtimeSer.Core.Pipeline.SpeechEvent;

namespace RealtimeSer.Server;

/// <summary>
/// StreamingRecognize for browsers, which cannot stream a request body over gRPC-Web: a WebSocket at
/// <see cref="Path"/>. The first message is text, <c>{"config": RecognitionConfig as proto JSON, "api_key": "..."}</c>;
/// then binary messages of audio in the configured encoding, and the text <c>{"event":"end"}</c> to finish.
/// Back come text messages: emotion events in the <c>ser replay</c> JSON schema (<see cref="EventJson"/>), and
/// <c>{"event":"ready"|"speech_start"|"speech_end"|"stats"|"error"|"done",...}</c>. Same admission, limits and
/// engine as gRPC; refusals send an error message, then close with a matching close status.
/// </summary>
internal sealed class BrowserStreamEndpoint(
    ModelRegistry models,
    ServerOptions options,
    ServerLifetime lifetime,
    StreamAdmission admission,
    StreamRegistry registry,
    EventDelivery delivery,
    ILogger logger
)
{
    public const string Path = "/v1/stream";
    private const int MaxTextBytes = 64 * 1024;
    private static readonly JsonParser ConfigParser = new(JsonParser.Settings.Default);
    private long _nextId;

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await WebErrors.WriteHttpAsync(
                context,
                new Status(
                    StatusCode.InvalidArgument,
                    $"{Path} is a WebSocket endpoint: open it with new WebSocket(...) (the page at / does)."
                )
            );
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync(
            new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.FromSeconds(15) }
        );
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted,
            lifetime.HardStop
        );
        var sender = new Sender(socket, delivery);
        try
        {
            await RunAsync(socket, sender, AccessPolicy.Authorization(context.Request), cancel.Token);
        }
        catch (RpcException e)
        {
            await CloseWithErrorAsync(sender, e.Status);
        }
        catch (OperationCanceledException) when (lifetime.HardStop.IsCancellationRequested)
        {
            await CloseWithErrorAsync(
                sender,
                new Status(
                    StatusCode.Unavailable,
                    "The server is shutting down; reconnect to another instance."
                )
            );
        }
        catch (Exception e)
            when (e is WebSocketException
                || (
                    e is OperationCanceledException
                    && (
                        context.RequestAborted.IsCancellationRequested
                        || socket.State == WebSocketState.Aborted
                    )
                )
            )
        {
            // The page went away (tab closed, network lost): its stream is already finished below.
            ServerLog.BrowserGone(logger, e.Message);
        }
    }

    /// <param name="handshakeAuthorization">
    /// The handshake's <c>authorization</c> header: programs may send the key there, browsers cannot (their
    /// WebSocket API sets no headers) and send it in the first message, which wins when both are present.
    /// </param>
    private async Task RunAsync(
        WebSocket socket,
        Sender sender,
        string handshakeAuthorization,
        CancellationToken token
    )
    {
        // The stream's own, not pooled: at an idle timeout a receive into it is still pending when the stream ends.
        var buffer = new byte[64 * 1024];
        var (config, apiKey) = await ReadFirstAsync(socket, buffer, token);
        using var slot = admission.Admit(apiKey is null ? handshakeAuthorization : "Bearer " + apiKey);
        StreamSetup setup;
        try
        {
            setup = StreamSetup.From(config, models, options);
        }
        catch (RpcException e)
        {
            throw admission.Refused(e.Status);
        }
        var id = "web-" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        await using var stream = setup.Engine.OpenStream(id, setup.Format, setup.Options);
        using var tracked = registry.Register(stream, setup.Engine, StreamRegistry.BrowserSource);
        ServerLog.StreamOpened(
            logger,
            id,
            setup.Encoding.ToString(),
            setup.SampleRate,
            setup.Channels,
            setup.Engine.Classifier.Manifest.Id
        );
        var status = "OK";
        try
        {
            await sender.SendAsync(json => WriteReady(json, stream, setup), token);
            await StreamAsync(socket, sender, buffer, setup, stream, tracked, token);
        }
        catch (Exception e)
        {
            status = e is RpcException g ? g.StatusCode.ToString() : e.GetType().Name;
            throw;
        }
        finally
        {
            ServerLog.StreamEnded(
                logger,
                id,
                status,
                stream.SecondsReceived,
                stream.WindowsClassified,
                stream.WindowsDropped
            );
        }
    }

    private async Task StreamAsync(
        WebSocket socket,
        Sender sender,
        byte[] buffer,
        StreamSetup setup,
        EngineStream stream,
        TrackedStream tracked,
        CancellationToken token
    )
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(token);
        var started = Stopwatch.GetTimestamp();
        var forward = ForwardEventsAsync(sender, stream, tracked, cancel);
        using var statsStop = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
        var stats = SendStatsAsync(sender, stream, started, statsStop.Token, cancel.Token);
        var decoder = setup.CreateDecoder();
        var maxBytes = (long)(options.MaxStreamSeconds * setup.SampleRate) * decoder.BytesPerFrame;
        long received = 0;
        try
        {
            while (true)
            {
                var result = await ReceiveAsync(socket, buffer, cancel.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                if (result.MessageType == WebSocketMessageType.Text)
                {
                    var text = await ReadTextAsync(socket, buffer, result, cancel.Token);
                    if (IsEnd(text))
                    {
                        break;
                    }
                    throw new RpcException(
                        new Status(
                            StatusCode.InvalidArgument,
                            "After the config, send audio as binary messages and {\"event\":\"end\"} to finish."
                        )
                    );
                }
                received += result.Count;
                if (received > maxBytes)
                {
                    throw new RpcException(
                        new Status(
                            StatusCode.OutOfRange,
                            $"Stream longer than the server's limit of {options.MaxStreamSeconds:F0} s of audio; start a new stream."
                        )
                    );
                }
                // Fragments may split a sample anywhere; the decoder carries the partial frame over.
                var samples = decoder.Decode(buffer.AsSpan(0, result.Count));
                if (!samples.IsEmpty)
                {
                    await stream.WriteAsync(samples, cancellationToken: cancel.Token);
                }
            }
            await stream.CompleteAsync(cancel.Token);
            await forward;
            await statsStop.CancelAsync();
            await SwallowAsync(stats);
            await sender.SendAsync(json => WriteStats(json, stream, started, "done"), cancel.Token);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await sender.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cancel.Token);
            }
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
                // The events side failed first (a model failure): its reason is the one to report.
                throw;
            }
            catch (Exception fe) when (fe is OperationCanceledException or RpcException) { }
            throw;
        }
    }

    private async Task ForwardEventsAsync(
        Sender sender,
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
                switch (e)
                {
                    case CoreSpeech s:
                        await sender.SendAsync(json => WriteSpeech(json, s), token);
                        break;
                    case EmotionEvent r:
                        await sender.SendAsync(json => EventJson.Write(json, r, file: null), token);
                        break;
                    case StreamFailedEvent:
                        throw InferenceFailure.Stream();
                }
            }
        }
        catch (Exception e) when (e is not RpcException and not OperationCanceledException)
        {
            await cancel.CancelAsync();
            if (e is not WebSocketException)
            {
                // The stream's channel completes with the model's error: keep its detail off the wire.
                ServerLog.Unexpected(logger, e);
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
    /// finishes (cancelling a WebSocket send aborts the socket, and with it the final stats and the close that
    /// follow at a normal end). <paramref name="token"/> is the stream's own, for real failures.
    /// </summary>
    private async Task SendStatsAsync(
        Sender sender,
        EngineStream stream,
        long started,
        CancellationToken stop,
        CancellationToken token
    )
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.StatsIntervalSeconds));
        while (await timer.WaitForNextTickAsync(stop))
        {
            await sender.SendAsync(json => WriteStats(json, stream, started, "stats"), token);
        }
    }

    private async Task<(RecognitionConfig Config, string? ApiKey)> ReadFirstAsync(
        WebSocket socket,
        byte[] buffer,
        CancellationToken token
    )
    {
        var first = await ReceiveAsync(socket, buffer, token);
        if (first.MessageType != WebSocketMessageType.Text)
        {
            throw admission.Refused(
                new Status(
                    StatusCode.InvalidArgument,
                    first.MessageType == WebSocketMessageType.Close
                        ? "Closed before the config: send {\"config\":{...}} first, then audio."
                        : "Audio before config: the first message must be the text {\"config\":{...},\"api_key\":\"...\"}."
                )
            );
        }
        var text = await ReadTextAsync(socket, buffer, first, token);
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (
                root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("config", out var config)
                || config.ValueKind != JsonValueKind.Object
            )
            {
                throw new JsonException("no \"config\" object");
            }
            var key =
                root.TryGetProperty("api_key", out var k) && k.ValueKind == JsonValueKind.String
                    ? k.GetString()
                    : null;
            return (ConfigParser.Parse<RecognitionConfig>(config.GetRawText()), key);
        }
        catch (Exception e) when (e is JsonException or InvalidProtocolBufferException)
        {
            throw admission.Refused(
                new Status(
                    StatusCode.InvalidArgument,
                    "The first message must be JSON {\"config\": RecognitionConfig in proto JSON (e.g. {\"encoding\":\"LINEAR16\",\"sampleRateHertz\":16000}), \"api_key\": \"...\"}: "
                        + e.Message
                )
            );
        }
    }

    /// <summary>One receive, bounded by the idle timeout (a stalled page must not hold a slot).</summary>
    private async Task<ValueWebSocketReceiveResult> ReceiveAsync(
        WebSocket socket,
        byte[] buffer,
        CancellationToken token
    )
    {
        if (options.StreamIdleTimeoutSeconds <= 0)
        {
            return await socket.ReceiveAsync(buffer.AsMemory(), token);
        }
        // Never cancelled itself: cancelling a receive aborts the socket, and the page would see 1006 with no
        // reason. Left pending, it lets the error message and a close frame with the reason go out; it ends when
        // the socket closes.
        var receive = socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
        if (receive.IsCompleted)
        {
            return receive.Result;
        }
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(token);
        idle.CancelAfter(TimeSpan.FromSeconds(options.StreamIdleTimeoutSeconds));
        var pending = receive.AsTask();
        try
        {
            return await pending.WaitAsync(idle.Token);
        }
        catch (OperationCanceledException)
        {
            _ = pending.ContinueWith(
                t => t.Exception,
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted,
                TaskScheduler.Default
            );
            token.ThrowIfCancellationRequested();
            throw new RpcException(
                new Status(
                    StatusCode.DeadlineExceeded,
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"No message for {options.StreamIdleTimeoutSeconds:0.###} s: the server ends idle streams."
                    )
                )
            );
        }
    }

    private async Task<string> ReadTextAsync(
        WebSocket socket,
        byte[] buffer,
        ValueWebSocketReceiveResult first,
        CancellationToken token
    )
    {
        var text = new ArrayBufferWriter<byte>();
        text.Write(buffer.AsSpan(0, first.Count));
        var result = first;
        while (!result.EndOfMessage)
        {
            result = await ReceiveAsync(socket, buffer, token);
            text.Write(buffer.AsSpan(0, result.Count));
            if (text.WrittenCount > MaxTextBytes)
            {
                throw new RpcException(
                    new Status(
                        StatusCode.InvalidArgument,
                        $"Text messages are limited to {MaxTextBytes} bytes; send audio as binary messages."
                    )
                );
            }
        }
        return System.Text.Encoding.UTF8.GetString(text.WrittenSpan);
    }

    private static bool IsEnd(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("event", out var e)
                && e.ValueEquals("end");
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void WriteReady(Utf8JsonWriter json, EngineStream stream, StreamSetup setup)
    {
        var manifest = setup.Engine.Classifier.Manifest;
        json.WriteStartObject();
        json.WriteString("event", "ready");
        json.WriteString("stream", stream.Id);
        json.WriteString("model", manifest.Id);
        json.WriteStartArray("labels");
        foreach (var label in manifest.Labels)
        {
            json.WriteStringValue(label);
        }
        json.WriteEndArray();
        json.WriteNumber("sample_rate", setup.SampleRate);
        json.WriteNumber("channels", stream.Channels);
        json.WriteEndObject();
    }

    internal static void WriteSpeech(Utf8JsonWriter json, CoreSpeech s)
    {
        json.WriteStartObject();
        json.WriteString("event", s.IsStart ? "speech_start" : "speech_end");
        json.WriteNumber("channel", s.Channel);
        if (s.ChannelName is not null)
        {
            json.WriteString("channel_name", s.ChannelName);
        }
        json.WriteNumber("segment", s.Segment);
        json.WriteNumber("time_s", Math.Round(s.Seconds, 3));
        json.WriteNumber("start_s", Math.Round(s.IsStart ? s.Seconds : s.StartSeconds, 3));
        json.WriteEndObject();
    }

    private static void WriteStats(Utf8JsonWriter json, EngineStream stream, long started, string kind)
    {
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        json.WriteStartObject();
        json.WriteString("event", kind);
        json.WriteNumber("audio_s", Math.Round(stream.SecondsReceived, 3));
        json.WriteNumber(
            "real_time_factor",
            elapsed > 0 ? Math.Round(stream.SecondsReceived / elapsed, 3) : 0
        );
        json.WriteNumber("windows_classified", stream.WindowsClassified);
        json.WriteNumber("windows_dropped", stream.WindowsDropped);
        json.WriteEndObject();
    }

    private async Task CloseWithErrorAsync(Sender sender, Status status)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await sender.SendAsync(json => WebErrors.WriteError(json, status), timeout.Token);
            await sender.CloseAsync(
                WebErrors.CloseStatus(status.StatusCode),
                WebErrors.CloseReason(status.Detail),
                timeout.Token
            );
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            ServerLog.BrowserGone(logger, e.Message);
        }
    }

    private static async Task SwallowAsync(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException or WebSocketException) { }
    }

    /// <summary>A WebSocket allows one send at a time; events, stats and errors share it through this.</summary>
    private sealed class Sender(WebSocket socket, EventDelivery delivery)
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);

        public async Task SendAsync(Action<Utf8JsonWriter> write, CancellationToken token)
        {
            await _lock.WaitAsync(token);
            try
            {
                if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
                {
                    return;
                }
                _buffer.ResetWrittenCount();
                using (var json = new Utf8JsonWriter(_buffer))
                {
                    write(json);
                }
                await delivery.WithinBoundAsync(
                    socket.SendAsync(_buffer.WrittenMemory, WebSocketMessageType.Text, true, token).AsTask(),
                    StreamRegistry.BrowserSource,
                    socket.Abort
                );
            }
            finally
            {
                _lock.Release();
            }
        }

        public async Task CloseAsync(WebSocketCloseStatus status, string reason, CancellationToken token)
        {
            await _lock.WaitAsync(token);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(status, reason, token);
                }
            }
            finally
            {
                _lock.Release();
            }
        }
    }
}
