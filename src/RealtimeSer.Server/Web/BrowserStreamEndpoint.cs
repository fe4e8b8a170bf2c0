using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
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
internal sealed class BrowserStreamEndpoint(SessionServices services)
{
    public const string Path = "/v1/stream";
    private const int MaxTextBytes = 64 * 1024;
    private static readonly JsonParser ConfigParser = new(JsonParser.Settings.Default);
    private long _nextId;

    private ServerOptions Options => services.Options;

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
        var sender = new Sender(socket);
        try
        {
            await RunAsync(
                socket,
                sender,
                AccessPolicy.Authorization(context.Request),
                context.RequestAborted
            );
        }
        catch (RpcException e)
        {
            await CloseWithErrorAsync(sender, e.Status);
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
            // The page went away (tab closed, network lost): its stream is already finished.
            ServerLog.BrowserGone(services.Logger, e.Message);
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
        using var slot = services.Admission.Admit(
            apiKey is null ? handshakeAuthorization : "Bearer " + apiKey
        );
        StreamSetup setup;
        try
        {
            setup = StreamSetup.From(config, services.Models, Options);
        }
        catch (RpcException e)
        {
            throw services.Admission.Refused(e.Status);
        }
        var id = "web-" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var transport = new WebSocketTransport(this, socket, sender, buffer);
        await new StreamSession(services, transport).RunAsync(setup, id, token);
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
            throw services.Admission.Refused(
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
            throw services.Admission.Refused(
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
        if (Options.StreamIdleTimeoutSeconds <= 0)
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
        idle.CancelAfter(TimeSpan.FromSeconds(Options.StreamIdleTimeoutSeconds));
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
                        $"No message for {Options.StreamIdleTimeoutSeconds:0.###} s: the server ends idle streams."
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
        ManifestJson.WriteLabels(json, manifest);
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

    private static void WriteStats(
        Utf8JsonWriter json,
        EngineStream stream,
        TimeSpan elapsedTime,
        string kind
    )
    {
        var elapsed = elapsedTime.TotalSeconds;
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
            ServerLog.BrowserGone(services.Logger, e.Message);
        }
    }

    /// <summary>The browser protocol's wire for a <see cref="StreamSession"/>.</summary>
    private sealed class WebSocketTransport(
        BrowserStreamEndpoint endpoint,
        WebSocket socket,
        Sender sender,
        byte[] buffer
    ) : IStreamTransport
    {
        public string Source => StreamRegistry.BrowserSource;

        public async ValueTask<ReadOnlyMemory<byte>?> ReadAudioAsync(CancellationToken token)
        {
            var result = await endpoint.ReceiveAsync(socket, buffer, token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }
            if (result.MessageType == WebSocketMessageType.Text)
            {
                var text = await endpoint.ReadTextAsync(socket, buffer, result, token);
                if (IsEnd(text))
                {
                    return null;
                }
                throw new RpcException(
                    new Status(
                        StatusCode.InvalidArgument,
                        "After the config, send audio as binary messages and {\"event\":\"end\"} to finish."
                    )
                );
            }
            return buffer.AsMemory(0, result.Count);
        }

        public Task SendReadyAsync(EngineStream stream, StreamSetup setup, CancellationToken token) =>
            sender.SendAsync(json => WriteReady(json, stream, setup), token);

        public Task SendEventAsync(EngineEvent e, CancellationToken token) =>
            e switch
            {
                CoreSpeech s => sender.SendAsync(json => WriteSpeech(json, s), token),
                EmotionEvent r => sender.SendAsync(json => EventJson.Write(json, r, file: null), token),
                _ => Task.CompletedTask,
            };

        public Task SendStatsAsync(
            EngineStream stream,
            TimeSpan elapsed,
            bool final,
            CancellationToken token
        ) => sender.SendAsync(json => WriteStats(json, stream, elapsed, final ? "done" : "stats"), token);

        public Task EndAsync(CancellationToken token) =>
            socket.State is WebSocketState.Open or WebSocketState.CloseReceived
                ? sender.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", token)
                : Task.CompletedTask;

        public void Abort() => socket.Abort();

        public bool IsTransportFailure(Exception e) => e is WebSocketException;

        public string StatusName(Exception? error) =>
            error switch
            {
                null => "OK",
                RpcException g => g.StatusCode.ToString(),
                _ => error.GetType().Name,
            };
    }

    /// <summary>A WebSocket allows one send at a time; events, stats and errors share it through this.</summary>
    private sealed class Sender(WebSocket socket)
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
                await socket.SendAsync(_buffer.WrittenMemory, WebSocketMessageType.Text, true, token);
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
