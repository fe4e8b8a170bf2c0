using Grpc.Core;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc.V1;
using CoreSpeech = RealtimeSer.Core.Pipeline.SpeechEvent;

namespace RealtimeSer.Server;

/// <summary>
/// realtime_ser.v1.EmotionRecognizer on the shared engines. Admission (keys, rates, limits) runs before each
/// call in <see cref="AdmissionInterceptor"/>; request bodies that go idle are cut by <see cref="IdleRequestBody"/>.
/// </summary>
internal sealed class EmotionService(SessionServices services) : EmotionRecognizer.EmotionRecognizerBase
{
    public const string Service = "/realtime_ser.v1.EmotionRecognizer/";
    public const string StreamingRecognizePath = Service + "StreamingRecognize";
    public const string RecognizePath = Service + "Recognize";
    public const string ListModelsPath = Service + "ListModels";

    private long _nextId;

    private string NextId() =>
        "grpc-"
        + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public override async Task StreamingRecognize(
        IAsyncStreamReader<StreamingRecognizeRequest> requestStream,
        IServerStreamWriter<StreamingRecognizeResponse> responseStream,
        ServerCallContext context
    )
    {
        var first = await RequestReader.NextAsync(requestStream, context.CancellationToken);
        if (first is null || first.RequestCase != StreamingRecognizeRequest.RequestOneofCase.Config)
        {
            throw services.Admission.Refused(
                new Status(
                    StatusCode.InvalidArgument,
                    first is null
                        ? "Empty request stream: send a StreamingRecognizeRequest with `config` first, then audio_content."
                        : "Audio before config: the first StreamingRecognizeRequest must carry only `config`; send audio_content after it."
                )
            );
        }
        var setup = Setup(first.Config);
        var transport = new GrpcStreamTransport(requestStream, responseStream, context);
        await new StreamSession(services, transport).RunAsync(setup, NextId(), context.CancellationToken);
    }

    public override async Task<RecognizeResponse> Recognize(
        RecognizeRequest request,
        ServerCallContext context
    )
    {
        if (request.Config is null)
        {
            throw services.Admission.Refused(
                new Status(
                    StatusCode.InvalidArgument,
                    "Recognize needs `config` (RecognitionConfig) beside audio_content: the encoding, rate and channels of the recording."
                )
            );
        }
        var setup = Setup(request.Config);
        var decoder = setup.CreateDecoder();
        if (
            (double)request.AudioContent.Length / decoder.BytesPerFrame / setup.SampleRate
            > services.Options.MaxStreamSeconds
        )
        {
            throw new RpcException(
                new Status(
                    StatusCode.OutOfRange,
                    $"Recording longer than the server's limit of {services.Options.MaxStreamSeconds:F0} s."
                )
            );
        }
        decoder.EnsureWholeFrames(request.AudioContent.Length);
        var response = new RecognizeResponse();
        var result = await RecordingAnalysis.RunAsync(
            setup.Engine,
            NextId(),
            setup.Format,
            setup.Options,
            RecordingRun.FromMemory(decoder.Decode(request.AudioContent.Span)),
            e =>
            {
                switch (e)
                {
                    case CoreSpeech s:
                        response.SpeechEvents.Add(ResponseMapper.ToWire(s));
                        break;
                    case EmotionEvent { IsFinal: true } r:
                        response.Results.Add(ResponseMapper.ToWire(r));
                        break;
                }
            },
            services.Logger,
            context.CancellationToken
        );
        response.StreamStats = ResponseMapper.Stats(result.Stream, result.Elapsed);
        return response;
    }

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var response = new ListModelsResponse();
        foreach (var classifier in services.Models.Classifiers)
        {
            var m = classifier.Manifest;
            var info = new ModelInfo
            {
                Id = m.Id,
                Name = m.Name ?? m.Id,
                MinWindowSeconds = m.MinWindowSeconds,
                RecommendedWindowSeconds = m.RecommendedWindowSeconds,
                RecommendedHopSeconds = m.RecommendedHopSeconds,
                IsDefault = services.Models.Default.ModelIds.Contains(m.Id),
            };
            info.Labels.AddRange(m.Labels);
            response.Models.Add(info);
        }
        response.DefaultModels.AddRange(services.Models.Default.ModelIds);
        response.InstalledNotLoaded.AddRange(services.Models.InstalledNotLoaded());
        return Task.FromResult(response);
    }

    private StreamSetup Setup(RecognitionConfig? config)
    {
        try
        {
            return StreamSetup.From(config, services.Models, services.Options);
        }
        catch (RpcException e)
        {
            throw services.Admission.Refused(e.Status);
        }
    }
}
