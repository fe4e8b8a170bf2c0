using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using CoreSpeech = RealtimeSer.Core.Pipeline.SpeechEvent;

namespace RealtimeSer.Server;

/// <summary>realtime_ser.v1.EmotionRecognizer on the shared engines.</summary>
internal sealed class EmotionService(
    ModelRegistry models,
    ServerOptions options,
    ServerLifetime lifetime,
    StreamAdmission admission,
    StreamRegistry registry,
    ILogger logger
)
{
    public const string Service = "/realtime_ser.v1.EmotionRecognizer/";
    public const string StreamingRecognizePath = Service + "StreamingRecognize";
    public const string RecognizePath = Service + "Recognize";
    public const string ListModelsPath = Service + "ListModels";

    private long _nextId;

    public async Task StreamingRecognizeAsync(GrpcServerCall call)
    {
        using var slot = Admit(call);
        using var idle = StreamIdleTimer.For(options);
        var first = await idle.ReadAsync(
            call.HttpContext.Request.BodyReader,
            StreamingRecognizeRequest.Parser,
            options.MaxMessageBytes,
            call.CancellationToken
        );
        if (first is null || first.RequestCase != StreamingRecognizeRequest.RequestOneofCase.Config)
        {
            throw Refused(
                call,
                new GrpcStatus(
                    GrpcStatusCode.InvalidArgument,
                    first is null
                        ? "Empty request stream: send a StreamingRecognizeRequest with `config` first, then audio_content."
                        : "Audio before config: the first StreamingRecognizeRequest must carry only `config`; send audio_content after it."
                )
            );
        }
        var setup = Setup(call, first.Config);
        var id =
            "grpc-"
            + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var stream = setup.Engine.OpenStream(id, setup.Format, setup.Options);
        using var tracked = registry.Register(stream, setup.Engine, StreamRegistry.GrpcSource);
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
            await RunStreamAsync(call, setup, stream, tracked, idle);
        }
        catch (Exception e)
        {
            status = GrpcStatus.FromException(e, call.DeadlineExpired).Code.ToString();
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

    private async Task RunStreamAsync(
        GrpcServerCall call,
        StreamSetup setup,
        EngineStream stream,
        TrackedStream tracked,
        StreamIdleTimer idle
    )
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(
            call.CancellationToken,
            lifetime.HardStop
        );
        var token = cancel.Token;
        var started = Stopwatch.GetTimestamp();
        using var writeLock = new SemaphoreSlim(1, 1);
        using var statsStop = CancellationTokenSource.CreateLinkedTokenSource(token);
        var forward = ForwardEventsAsync(call, stream, tracked, writeLock, cancel);
        var stats = SendStatsAsync(call, stream, writeLock, started, statsStop.Token);
        var decoder = setup.CreateDecoder();
        var maxBytes = (long)(options.MaxStreamSeconds * setup.SampleRate) * decoder.BytesPerFrame;
        long received = 0;
        try
        {
            var body = call.HttpContext.Request.BodyReader;
            while (
                await idle.ReadAsync(body, StreamingRecognizeRequest.Parser, options.MaxMessageBytes, token)
                    is { } request
            )
            {
                if (request.RequestCase != StreamingRecognizeRequest.RequestOneofCase.AudioContent)
                {
                    throw new GrpcException(
                        GrpcStatusCode.InvalidArgument,
                        "Only the first request may carry `config`; later ones must carry only audio_content."
                    );
                }
                received += request.AudioContent.Length;
                if (received > maxBytes)
                {
                    throw new GrpcException(
                        GrpcStatusCode.OutOfRange,
                        $"Stream longer than the server's limit of {options.MaxStreamSeconds:F0} s of audio; start a new stream."
                    );
                }
                var samples = decoder.Decode(request.AudioContent.Span);
                if (!samples.IsEmpty)
                {
                    await stream.WriteAsync(samples, cancellationToken: token);
                }
            }
            await stream.CompleteAsync(token);
            await forward;
            await statsStop.CancelAsync();
            await SwallowAsync(stats);
            await WriteLockedAsync(
                call,
                writeLock,
                new StreamingRecognizeResponse
                {
                    StreamStats = ResponseMapper.Stats(stream, Stopwatch.GetElapsedTime(started)),
                },
                token
            );
        }
        catch (Exception e)
        {
            await cancel.CancelAsync();
            await SwallowAsync(stats);
            try
            {
                await forward;
            }
            catch (GrpcException) when (e is OperationCanceledException)
            {
                // The events side failed first (a model failure): its reason is the call's status.
                throw;
            }
            catch (Exception fe) when (fe is OperationCanceledException or GrpcException) { }
            if (
                e is OperationCanceledException
                && lifetime.HardStop.IsCancellationRequested
                && !call.HttpContext.RequestAborted.IsCancellationRequested
            )
            {
                throw new GrpcException(
                    GrpcStatusCode.Unavailable,
                    "The server is shutting down; reconnect to another instance."
                );
            }
            throw;
        }
    }

    private async Task ForwardEventsAsync(
        GrpcServerCall call,
        EngineStream stream,
        TrackedStream tracked,
        SemaphoreSlim writeLock,
        CancellationTokenSource cancel
    )
    {
        var token = cancel.Token;
        try
        {
            await foreach (var e in stream.Events.ReadAllAsync(token))
            {
                tracked.Observe(e);
                StreamingRecognizeResponse? response = e switch
                {
                    CoreSpeech s => new() { SpeechEvent = ResponseMapper.ToWire(s) },
                    EmotionEvent r => new() { Result = ResponseMapper.ToWire(r) },
                    StreamFailedEvent => throw InferenceFailure.Stream(),
                    _ => null,
                };
                if (response is not null)
                {
                    await WriteLockedAsync(call, writeLock, response, token);
                }
            }
        }
        catch (Exception e) when (e is not GrpcException and not OperationCanceledException)
        {
            // The stream's channel completes with the model's error: keep its detail off the wire.
            await cancel.CancelAsync();
            ServerLog.Unexpected(logger, e);
            throw InferenceFailure.Stream();
        }
        catch (GrpcException)
        {
            await cancel.CancelAsync();
            throw;
        }
    }

    private async Task SendStatsAsync(
        GrpcServerCall call,
        EngineStream stream,
        SemaphoreSlim writeLock,
        long started,
        CancellationToken token
    )
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.StatsIntervalSeconds));
        while (await timer.WaitForNextTickAsync(token))
        {
            await WriteLockedAsync(
                call,
                writeLock,
                new StreamingRecognizeResponse
                {
                    StreamStats = ResponseMapper.Stats(stream, Stopwatch.GetElapsedTime(started)),
                },
                token
            );
        }
    }

    private static async Task WriteLockedAsync(
        GrpcServerCall call,
        SemaphoreSlim writeLock,
        IMessage message,
        CancellationToken token
    )
    {
        await writeLock.WaitAsync(token);
        try
        {
            await call.WriteAsync(message);
        }
        finally
        {
            writeLock.Release();
        }
    }

    private static async Task SwallowAsync(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception e) when (e is OperationCanceledException or GrpcException) { }
    }

    public async Task RecognizeAsync(GrpcServerCall call)
    {
        using var slot = Admit(call);
        using var idle = StreamIdleTimer.For(options);
        var request =
            await idle.ReadAsync(
                call.HttpContext.Request.BodyReader,
                RecognizeRequest.Parser,
                options.MaxMessageBytes,
                call.CancellationToken
            )
            ?? throw new GrpcException(
                GrpcStatusCode.InvalidArgument,
                "Send one RecognizeRequest with config and audio_content."
            );
        var setup = Setup(call, request.Config);
        var decoder = setup.CreateDecoder();
        if (
            (double)request.AudioContent.Length / decoder.BytesPerFrame / setup.SampleRate
            > options.MaxStreamSeconds
        )
        {
            throw new GrpcException(
                GrpcStatusCode.OutOfRange,
                $"Recording longer than the server's limit of {options.MaxStreamSeconds:F0} s."
            );
        }
        var id =
            "grpc-"
            + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var stream = setup.Engine.OpenStream(
            id,
            setup.Format,
            setup.Options with
            {
                InterimResults = false,
            }
        );
        var started = Stopwatch.GetTimestamp();
        var response = new RecognizeResponse();
        var token = call.CancellationToken;
        var collect = Task.Run(
            async () =>
            {
                await foreach (var e in stream.Events.ReadAllAsync(token))
                {
                    switch (e)
                    {
                        case CoreSpeech s:
                            response.SpeechEvents.Add(ResponseMapper.ToWire(s));
                            break;
                        case EmotionEvent { IsFinal: true } r:
                            response.Results.Add(ResponseMapper.ToWire(r));
                            break;
                        case StreamFailedEvent:
                            throw InferenceFailure.Recording();
                    }
                }
            },
            token
        );
        var samples = decoder.Decode(request.AudioContent.Span);
        // Feed in half-second blocks, letting the scheduler keep up so a whole recording is not dropped as overload.
        var block = setup.SampleRate / 2 * setup.Channels;
        for (var offset = 0; offset < samples.Length; offset += block)
        {
            await stream.WriteAsync(
                samples.Slice(offset, Math.Min(block, samples.Length - offset)),
                cancellationToken: token
            );
            await Task.Yield();
        }
        await stream.CompleteAsync(token);
        await InferenceFailure.AwaitRecordingAsync(collect, logger);
        response.StreamStats = ResponseMapper.Stats(stream, Stopwatch.GetElapsedTime(started));
        await call.WriteAsync(response);
    }

    public async Task ListModelsAsync(GrpcServerCall call)
    {
        _ = admission.AuthenticateCall(call.RequestHeaders.Authorization.ToString());
        _ = await call.ReadAsync(ListModelsRequest.Parser);
        var response = new ListModelsResponse();
        foreach (var classifier in models.Classifiers)
        {
            var m = classifier.Manifest;
            var info = new ModelInfo
            {
                Id = m.Id,
                Name = m.Name ?? m.Id,
                MinWindowSeconds = m.MinWindowSeconds,
                RecommendedWindowSeconds = m.RecommendedWindowSeconds,
                RecommendedHopSeconds = m.RecommendedHopSeconds,
                IsDefault = models.Default.ModelIds.Contains(m.Id),
            };
            info.Labels.AddRange(m.Labels);
            response.Models.Add(info);
        }
        response.DefaultModels.AddRange(models.Default.ModelIds);
        await call.WriteAsync(response);
    }

    private StreamSetup Setup(GrpcServerCall call, RecognitionConfig? config)
    {
        try
        {
            return StreamSetup.From(config, models, options);
        }
        catch (GrpcException e)
        {
            throw Refused(call, e.Status);
        }
    }

    private IDisposable Admit(GrpcServerCall call) =>
        admission.Admit(call.RequestHeaders.Authorization.ToString());

    private GrpcException Refused(GrpcServerCall call, GrpcStatus status)
    {
        _ = call;
        return admission.Refused(status);
    }
}
