using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc.V1;
using CoreSpeech = RealtimeSer.Core.Pipeline.SpeechEvent;

namespace RealtimeSer.Server;

/// <summary>
/// realtime_ser.v1.EmotionRecognizer on the shared engines. Admission (keys, rates, limits) runs before each
/// call in <see cref="AdmissionInterceptor"/>; request bodies that go idle are cut by <see cref="IdleRequestBody"/>.
/// </summary>
internal sealed class EmotionService(
    ModelRegistry models,
    ServerOptions options,
    ServerLifetime lifetime,
    StreamAdmission admission,
    StreamRegistry registry,
    EventDelivery delivery,
    ILogger logger
) : EmotionRecognizer.EmotionRecognizerBase
{
    public const string Service = "/realtime_ser.v1.EmotionRecognizer/";
    public const string StreamingRecognizePath = Service + "StreamingRecognize";
    public const string RecognizePath = Service + "Recognize";
    public const string ListModelsPath = Service + "ListModels";

    private long _nextId;

    public override async Task StreamingRecognize(
        IAsyncStreamReader<StreamingRecognizeRequest> requestStream,
        IServerStreamWriter<StreamingRecognizeResponse> responseStream,
        ServerCallContext context
    )
    {
        var first = await RequestReader.NextAsync(requestStream, context.CancellationToken);
        if (first is null || first.RequestCase != StreamingRecognizeRequest.RequestOneofCase.Config)
        {
            throw admission.Refused(
                new Status(
                    StatusCode.InvalidArgument,
                    first is null
                        ? "Empty request stream: send a StreamingRecognizeRequest with `config` first, then audio_content."
                        : "Audio before config: the first StreamingRecognizeRequest must carry only `config`; send audio_content after it."
                )
            );
        }
        var setup = Setup(first.Config);
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
        Exception? error = null;
        try
        {
            await RunStreamAsync(new Call(requestStream, responseStream, context), setup, stream, tracked);
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            ServerLog.StreamEnded(
                logger,
                id,
                CallStatus.Name(CallStatus.Of(error, context)),
                stream.SecondsReceived,
                stream.WindowsClassified,
                stream.WindowsDropped
            );
        }
    }

    /// <summary>One streaming call: its requests, its responses and its context.</summary>
    private sealed record Call(
        IAsyncStreamReader<StreamingRecognizeRequest> Requests,
        IServerStreamWriter<StreamingRecognizeResponse> Responses,
        ServerCallContext Context
    );

    private async Task RunStreamAsync(
        Call call,
        StreamSetup setup,
        EngineStream stream,
        TrackedStream tracked
    )
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(
            call.Context.CancellationToken,
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
            while (await RequestReader.NextAsync(call.Requests, token) is { } request)
            {
                if (request.RequestCase != StreamingRecognizeRequest.RequestOneofCase.AudioContent)
                {
                    throw new RpcException(
                        new Status(
                            StatusCode.InvalidArgument,
                            "Only the first request may carry `config`; later ones must carry only audio_content."
                        )
                    );
                }
                received += request.AudioContent.Length;
                if (received > maxBytes)
                {
                    throw new RpcException(
                        new Status(
                            StatusCode.OutOfRange,
                            $"Stream longer than the server's limit of {options.MaxStreamSeconds:F0} s of audio; start a new stream."
                        )
                    );
                }
                var samples = decoder.Decode(request.AudioContent.Span);
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
            catch (RpcException) when (e is OperationCanceledException)
            {
                // The events side failed first (a model failure): its reason is the call's status.
                throw;
            }
            catch (Exception fe) when (fe is OperationCanceledException or RpcException) { }
            if (
                e is OperationCanceledException
                && lifetime.HardStop.IsCancellationRequested
                && !call.Context.CancellationToken.IsCancellationRequested
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
        Call call,
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
        catch (Exception e) when (e is not RpcException and not OperationCanceledException)
        {
            // The stream's channel completes with the model's error: keep its detail off the wire.
            await cancel.CancelAsync();
            ServerLog.Unexpected(logger, e);
            throw InferenceFailure.Stream();
        }
        catch (RpcException)
        {
            await cancel.CancelAsync();
            throw;
        }
    }

    private async Task SendStatsAsync(
        Call call,
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

    /// <summary>
    /// One response at a time. <paramref name="token"/> ends only the wait for the lock, never a write under way:
    /// Grpc.AspNetCore answers a write's cancellation by resetting the HTTP/2 stream (RST_STREAM CANCEL), which
    /// throws away the status and stats still to come. Stopping the stats at a normal end, or the grace period
    /// running out at shutdown, while a write waited on flow control used to end a healthy stream that way
    /// (CANCELLED at a direct client, INTERNAL behind nginx) instead of OK or UNAVAILABLE. A write under way ends
    /// by itself: it completes, or fails once the call is aborted (client gone, Kestrel's minimum response data
    /// rate for a client that stops reading, Kestrel's shutdown timeout).
    /// </summary>
    private async Task WriteLockedAsync(
        Call call,
        SemaphoreSlim writeLock,
        StreamingRecognizeResponse message,
        CancellationToken token
    )
    {
        await writeLock.WaitAsync(token);
        try
        {
            // A client that stops reading is the one case where a write is ended from here: by aborting the
            // call, past the delivery bound, with the stream counted as unread.
            await delivery.WithinBoundAsync(
                call.Responses.WriteAsync(message, CancellationToken.None),
                StreamRegistry.GrpcSource,
                () =>
                {
                    call.Context.UserState[EventDelivery.UnreadMark] = true;
                    call.Context.GetHttpContext().Abort();
                }
            );
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
        catch (Exception e) when (e is OperationCanceledException or RpcException) { }
    }

    public override async Task<RecognizeResponse> Recognize(
        RecognizeRequest request,
        ServerCallContext context
    )
    {
        var setup = Setup(request.Config);
        var decoder = setup.CreateDecoder();
        if (
            (double)request.AudioContent.Length / decoder.BytesPerFrame / setup.SampleRate
            > options.MaxStreamSeconds
        )
        {
            throw new RpcException(
                new Status(
                    StatusCode.OutOfRange,
                    $"Recording longer than the server's limit of {options.MaxStreamSeconds:F0} s."
                )
            );
        }
        decoder.EnsureWholeFrames(request.AudioContent.Length);
        var id =
            "grpc-"
            + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var stream = setup.Engine.OpenStream(
            id,
            setup.Format,
            StreamSetup.ForWholeRecording(setup.Options)
        );
        var started = Stopwatch.GetTimestamp();
        var response = new RecognizeResponse();
        var token = context.CancellationToken;
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
        // Half-second blocks, as replay feeds the engine; in wait mode each waits for the model to have room.
        var block = setup.SampleRate / 2 * setup.Channels;
        for (var offset = 0; offset < samples.Length; offset += block)
        {
            await stream.WriteAsync(
                samples.Slice(offset, Math.Min(block, samples.Length - offset)),
                cancellationToken: token
            );
        }
        await stream.CompleteAsync(token);
        await InferenceFailure.AwaitRecordingAsync(collect, logger);
        response.StreamStats = ResponseMapper.Stats(stream, Stopwatch.GetElapsedTime(started));
        return response;
    }

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
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
        return Task.FromResult(response);
    }

    private StreamSetup Setup(RecognitionConfig? config)
    {
        try
        {
            return StreamSetup.From(config, models, options);
        }
        catch (RpcException e)
        {
            throw admission.Refused(e.Status);
        }
    }
}
