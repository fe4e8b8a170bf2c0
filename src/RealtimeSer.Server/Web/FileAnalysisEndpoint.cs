using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using RealtimeSer.Audio;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Output;
using RealtimeSer.Core.Pipeline;
using CoreSpeech = RealtimeSer.Core.Pipeline.SpeechEvent;

namespace RealtimeSer.Server;

/// <summary>
/// A recording dropped on the page: <c>POST /v1/analyze?name=FILE</c> with the file as the body (any format
/// <c>ser replay</c> reads). Stereo is analysed per channel. The answer holds every final in the
/// <c>ser replay</c> schema plus the speech segments, so the page draws the same timeline as for live audio.
/// Counts as one stream against the server's and the key's limits while it runs.
/// </summary>
internal sealed class FileAnalysisEndpoint(
    ModelRegistry models,
    ServerOptions options,
    StreamAdmission admission,
    OriginPolicy origins,
    ILogger logger
)
{
    public const string Path = "/v1/analyze";
    private long _nextId;

    public async Task HandleAsync(HttpContext context)
    {
        try
        {
            if (origins.Check(context.Request) is { } refused)
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, refused));
            }
            using var slot = admission.Admit(context.Request.Headers.Authorization.ToString());
            var engine =
                models.Find(context.Request.Query["model"].ToString())
                ?? throw new RpcException(
                    new Status(
                        StatusCode.InvalidArgument,
                        "Unknown model; /v1/models lists the ids, or leave it out for the default."
                    )
                );
            if (context.Request.ContentLength > options.MaxUploadBytes)
            {
                throw TooLarge();
            }
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = options.MaxUploadBytes;
            }
            var name = System.IO.Path.GetFileName(context.Request.Query["name"].ToString());
            var temp = System.IO.Path.Combine(
                System.IO.Path.GetTempPath(),
                $"ser-upload-{Environment.ProcessId}-{Interlocked.Increment(ref _nextId)}.tmp"
            );
            try
            {
                await SaveAsync(context, temp);
                await AnalyseAsync(context, engine, temp, name.Length > 0 ? name : "upload");
            }
            finally
            {
                File.Delete(temp);
            }
        }
        catch (RpcException e)
        {
            await WebErrors.WriteHttpAsync(context, e.Status);
        }
        catch (AudioFormatException e)
        {
            await WebErrors.WriteHttpAsync(
                context,
                new Status(StatusCode.InvalidArgument, "Cannot read this recording: " + e.Message)
            );
        }
    }

    private RpcException TooLarge() =>
        new(
            new Status(
                StatusCode.OutOfRange,
                $"Recording larger than the server's upload limit of {options.MaxUploadBytes / (1024 * 1024)} MiB (Server:MaxUploadBytes)."
            )
        );

    private async Task SaveAsync(HttpContext context, string path)
    {
        await using var file = new FileStream(
            path,
            FileMode.CreateNew,
            FileAccess.Write,
            FileShare.None,
            81920,
            FileOptions.Asynchronous
        );
        try
        {
            await context.Request.Body.CopyToAsync(file, context.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge();
        }
        if (file.Length == 0)
        {
            throw new RpcException(
                new Status(
                    StatusCode.InvalidArgument,
                    "Empty upload: send the recording's bytes as the request body."
                )
            );
        }
    }

    private async Task AnalyseAsync(HttpContext context, EmotionEngine engine, string path, string name)
    {
        var token = context.RequestAborted;
        using var reader = AudioFile.Open(path);
        var format = reader.Format;
        if (reader.TotalFrames is { } frames && frames / (double)format.SampleRate > options.MaxStreamSeconds)
        {
            throw new RpcException(
                new Status(
                    StatusCode.OutOfRange,
                    $"Recording longer than the server's limit of {options.MaxStreamSeconds:F0} s."
                )
            );
        }
        var mode = format.Channels <= 2 ? ChannelMode.Split : ChannelMode.Mix;
        var id =
            "file-"
            + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var started = Stopwatch.GetTimestamp();
        await using var stream = engine.OpenStream(
            id,
            new StreamFormat(format.SampleRate, format.Channels, mode),
            StreamSetup.ForWholeRecording(engine.Options)
        );
        var finals = new List<EmotionEvent>();
        var speech = new List<CoreSpeech>();
        var collect = Task.Run(
            async () =>
            {
                await foreach (var e in stream.Events.ReadAllAsync(token))
                {
                    switch (e)
                    {
                        case CoreSpeech { IsStart: false } s:
                            speech.Add(s);
                            break;
                        case EmotionEvent { IsFinal: true } r:
                            finals.Add(r);
                            break;
                        case StreamFailedEvent:
                            throw InferenceFailure.Recording();
                    }
                }
            },
            token
        );
        // Half-second blocks, as Recognize feeds the engine; in wait mode each waits for the model to have room.
        var block = new float[format.SampleRate / 2 * format.Channels];
        int read;
        while ((read = await reader.ReadAsync(block, token)) > 0)
        {
            await stream.WriteAsync(block.AsMemory(0, read * format.Channels), cancellationToken: token);
            if (stream.SecondsReceived > options.MaxStreamSeconds)
            {
                throw new RpcException(
                    new Status(
                        StatusCode.OutOfRange,
                        $"Recording longer than the server's limit of {options.MaxStreamSeconds:F0} s."
                    )
                );
            }
        }
        await stream.CompleteAsync(token);
        await InferenceFailure.AwaitRecordingAsync(collect, logger);
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("file", name);
        json.WriteString("model", engine.Classifier.Manifest.Id);
        json.WriteStartArray("labels");
        foreach (var label in engine.Classifier.Manifest.Labels)
        {
            json.WriteStringValue(label);
        }
        json.WriteEndArray();
        json.WriteNumber("duration_s", Math.Round(stream.SecondsReceived, 3));
        json.WriteNumber("channels", stream.Channels);
        json.WriteNumber("source_channels", format.Channels);
        json.WriteNumber("windows_classified", stream.WindowsClassified);
        json.WriteNumber("windows_dropped", stream.WindowsDropped);
        json.WriteNumber("elapsed_s", Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3));
        json.WriteStartArray("speech");
        foreach (var s in speech)
        {
            json.WriteStartObject();
            json.WriteNumber("channel", s.Channel);
            json.WriteNumber("segment", s.Segment);
            json.WriteNumber("start_s", Math.Round(s.StartSeconds, 3));
            json.WriteNumber("end_s", Math.Round(s.Seconds, 3));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("events");
        foreach (var e in finals)
        {
            EventJson.Write(json, e, name);
        }
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(token);
    }
}
