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
    ILogger logger
)
{
    public const string Path = "/v1/analyze";
    private const int MaxNameLength = 255;
    private readonly UploadGate _gate = new(options.MaxConcurrentUploads, options.MaxQueuedUploads);
    private readonly Lazy<string> _folder = new(() => UploadFolder(options));
    private long _nextId;

    public async Task HandleAsync(HttpContext context)
    {
        string? temp = null;
        try
        {
            using var slot = admission.Admit(AccessPolicy.Authorization(context.Request));
            var requested = context.Request.Query["model"].ToString();
            var engine =
                models.Find(requested)
                ?? throw new RpcException(
                    new Status(
                        StatusCode.InvalidArgument,
                        requested.Length > StreamSetup.MaxNameLength
                            ? "Unknown model; /v1/models lists the ids, or leave it out for the default."
                            : models.UnknownModel([requested], "model")
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
            var name = DisplayName(context.Request.Query["name"].ToString());
            // Decoding is the costly part: a bounded number at a time, a bounded queue behind them, so that
            // uploads cannot take the CPU and threads the pages, /metrics and live streams need.
            using var turn = _gate.Enter() ?? throw admission.Refused(Busy());
            // A fresh random name in the server's own private folder: nothing about the server in it.
            temp = System.IO.Path.Combine(_folder.Value, System.IO.Path.GetRandomFileName());
            await SaveAsync(context, temp);
            await turn.WaitAsync(context.RequestAborted);
            await AnalyseAsync(context, engine, temp, name);
        }
        catch (RpcException e)
        {
            await WebErrors.WriteHttpAsync(context, e.Status, e.Trailers);
        }
        catch (AudioFormatException e)
        {
            await WebErrors.WriteHttpAsync(
                context,
                new Status(StatusCode.InvalidArgument, "Cannot read this recording: " + e.Message)
            );
        }
        finally
        {
            if (temp is not null)
            {
                File.Delete(temp);
            }
        }
    }

    private RpcException Busy() =>
        new(
            new Status(
                StatusCode.ResourceExhausted,
                $"The server is analysing {_gate.Running} recordings and {_gate.Waiting} more wait (Server:MaxConcurrentUploads, Server:MaxQueuedUploads); retry in a few seconds."
            ),
            KeyLimits.RetryAfter(TimeSpan.FromSeconds(5))
        );

    /// <summary>The name the caller gave, without folders, for messages and the events' "file" field.</summary>
    private static string DisplayName(string requested)
    {
        var name = System.IO.Path.GetFileName(requested.Replace('\\', '/'));
        name = new string([.. name.Where(c => !char.IsControl(c))]);
        if (name.Length > MaxNameLength)
        {
            name = name[..MaxNameLength];
        }
        return name.Length > 0 ? name : "upload";
    }

    /// <summary>
    /// Server:UploadFolder, or a private folder of this process under the system's temporary folder (created
    /// readable by this user only).
    /// </summary>
    private static string UploadFolder(ServerOptions options)
    {
        if (!string.IsNullOrEmpty(options.UploadFolder))
        {
            Directory.CreateDirectory(options.UploadFolder);
            return options.UploadFolder;
        }
        return Directory.CreateTempSubdirectory("ser-uploads-").FullName;
    }

    /// <summary>
    /// Removes the private folder this process made, once the server has stopped, so that no run leaves an
    /// empty folder behind (a configured Server:UploadFolder is the operator's and stays).
    /// </summary>
    public void RemovePrivateFolder()
    {
        if (!_folder.IsValueCreated || !string.IsNullOrEmpty(options.UploadFolder))
        {
            return;
        }
        try
        {
            Directory.Delete(_folder.Value, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ServerLog.UploadFolderLeft(logger, _folder.Value, e.Message);
        }
    }

    private RpcException TooLong() =>
        new(
            new Status(
                StatusCode.OutOfRange,
                $"Recording longer than the server's limit of {options.MaxStreamSeconds:F0} s."
            )
        );

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
        using var reader = await Task.Run(() => UntrustedAudio.Open(path, name), token);
        var format = reader.Format;
        if (reader.TotalFrames is { } frames && frames / (double)format.SampleRate > options.MaxStreamSeconds)
        {
            throw TooLong();
        }
        var mode = format.Channels <= 2 ? ChannelMode.Split : ChannelMode.Mix;
        var id =
            "file-"
            + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var finals = new List<EmotionEvent>();
        var speech = new List<CoreSpeech>();
        long framesRead = 0;
        var result = await RecordingAnalysis.RunAsync(
            engine,
            id,
            new StreamFormat(format.SampleRate, format.Channels, mode),
            engine.Options.Streams,
            async (block, ct) =>
            {
                var frames = await reader.ReadAsync(block, ct);
                // Formats without a length (compressed ones) are held to the limit as they decode.
                if ((framesRead += frames) / (double)format.SampleRate > options.MaxStreamSeconds)
                {
                    throw TooLong();
                }
                return frames * format.Channels;
            },
            e =>
            {
                switch (e)
                {
                    case CoreSpeech { IsStart: false } s:
                        speech.Add(s);
                        break;
                    case EmotionEvent { IsFinal: true } r:
                        finals.Add(r);
                        break;
                }
            },
            logger,
            token
        );
        var stream = result.Stream;
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("file", name);
        json.WriteString("model", engine.Classifier.Manifest.Id);
        ManifestJson.WriteLabels(json, engine.Classifier.Manifest);
        json.WriteNumber("duration_s", Math.Round(stream.SecondsReceived, 3));
        json.WriteNumber("channels", stream.Channels);
        json.WriteNumber("source_channels", format.Channels);
        json.WriteNumber("windows_classified", stream.WindowsClassified);
        json.WriteNumber("windows_dropped", stream.WindowsDropped);
        json.WriteNumber("elapsed_s", Math.Round(result.Elapsed.TotalSeconds, 3));
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
