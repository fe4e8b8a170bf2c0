using Grpc.Core;
using RealtimeSer.Core.Ingest;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Server;

/// <summary>A validated RecognitionConfig: which engine, the stream format, per-stream options, the decoder.</summary>
internal sealed record StreamSetup(
    EmotionEngine Engine,
    StreamFormat Format,
    StreamOptions Options,
    AudioEncoding Encoding,
    int SampleRate,
    int Channels
)
{
    public const int MinRate = 8000;
    public const int MaxRate = 48000;

    /// <summary>Longest channel name or model id a config may carry: names are labels, not documents.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Most models one stream may name.</summary>
    public const int MaxModels = 8;

    public AudioDecoder CreateDecoder() => new(Encoding, Channels);

    /// <summary>Every problem is INVALID_ARGUMENT with a message saying what to send instead.</summary>
    public static StreamSetup From(RecognitionConfig? config, ModelRegistry models, ServerOptions limits)
    {
        if (config is null)
        {
            throw Invalid("The first message must carry `config` (RecognitionConfig) and no audio.");
        }
        if (
            config.Encoding
            is not (
                AudioEncoding.Linear16
                or AudioEncoding.Float32
                or AudioEncoding.Mulaw
                or AudioEncoding.Alaw
            )
        )
        {
            throw Invalid("config.encoding must be LINEAR16, FLOAT32, MULAW or ALAW.");
        }
        if (config.SampleRateHertz is < MinRate or > MaxRate)
        {
            throw Invalid(
                $"config.sample_rate_hertz must be {MinRate}–{MaxRate}, got {config.SampleRateHertz}."
            );
        }
        var channels = config.AudioChannelCount == 0 ? 1 : config.AudioChannelCount;
        if (channels is not (1 or 2))
        {
            throw Invalid($"config.audio_channel_count must be 1 or 2, got {config.AudioChannelCount}.");
        }
        if (config.ChannelNames.Count > channels)
        {
            throw Invalid(
                $"config.channel_names has {config.ChannelNames.Count} names for {channels} channel(s)."
            );
        }
        CheckText(config.ChannelNames, "config.channel_names");
        CheckText([config.Model], "config.model");
        if (config.Models.Count > MaxModels)
        {
            throw Invalid($"config.models names {config.Models.Count} models; at most {MaxModels}.");
        }
        CheckText(config.Models, "config.models");
        CheckFinite(config);
        var engine =
            models.Find(config.Model, config.Models)
            ?? throw Invalid(
                config.Models.Count > 0
                    ? models.UnknownModel([.. config.Models], "config.models")
                    : models.UnknownModel([config.Model], "config.model")
            );
        var options = engine.Options.Streams with
        {
            InterimResults = config.InterimResults,
            Recorded = config.Recorded ? true : engine.Options.Streams.Recorded,
        };
        if (config.HasWindowSeconds)
        {
            if (
                config.WindowSeconds < Math.Max(limits.MinWindowSeconds, engine.MinWindowSeconds)
                || config.WindowSeconds > limits.MaxWindowSeconds
            )
            {
                throw Invalid(
                    $"config.window_seconds must be {Math.Max(limits.MinWindowSeconds, engine.MinWindowSeconds)}–{limits.MaxWindowSeconds}."
                );
            }
            options = options with { WindowSeconds = config.WindowSeconds };
        }
        if (config.HasHopSeconds)
        {
            var window = options.WindowSeconds ?? engine.Classifier.Manifest.RecommendedWindowSeconds;
            if (config.HopSeconds < limits.MinHopSeconds || config.HopSeconds > window)
            {
                throw Invalid($"config.hop_seconds must be {limits.MinHopSeconds}–{window} (the window).");
            }
            options = options with { HopSeconds = config.HopSeconds };
        }
        if (config.HasSmoothingSeconds)
        {
            if (config.SmoothingSeconds < 0 || config.SmoothingSeconds > limits.MaxSmoothingSeconds)
            {
                throw Invalid($"config.smoothing_seconds must be 0–{limits.MaxSmoothingSeconds}.");
            }
            options = options with { SmoothingSeconds = config.SmoothingSeconds };
        }
        if (config.Vad is { } vad)
        {
            var v = options.Vad;
            v = vad.HasStartThreshold ? v with { StartThreshold = vad.StartThreshold } : v;
            v = vad.HasEndThreshold ? v with { EndThreshold = vad.EndThreshold } : v;
            v = vad.HasMinSpeechMs ? v with { MinSpeechMs = vad.MinSpeechMs } : v;
            v = vad.HasMinSilenceMs ? v with { MinSilenceMs = vad.MinSilenceMs } : v;
            v = vad.HasSpeechPadMs ? v with { SpeechPadMs = vad.SpeechPadMs } : v;
            options = options with { Vad = v };
        }
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw Invalid("config.vad: " + e.Message);
        }
        var format = new StreamFormat(config.SampleRateHertz, channels, ChannelMode.Split)
        {
            ChannelNames = config.ChannelNames.Count > 0 ? [.. config.ChannelNames] : null,
        };
        return new StreamSetup(engine, format, options, config.Encoding, config.SampleRateHertz, channels);
    }

    /// <summary>Short, printable names only: they reach logs, the dashboard and every subscriber's snapshot.</summary>
    private static void CheckText(IEnumerable<string> values, string field)
    {
        foreach (var value in values)
        {
            if (value.Length > MaxNameLength)
            {
                throw Invalid(
                    $"{field}: a name of {value.Length} characters; at most {MaxNameLength} are accepted."
                );
            }
            if (value.Any(char.IsControl))
            {
                throw Invalid($"{field}: control characters are not accepted in names.");
            }
        }
    }

    /// <summary>
    /// NaN fails every range check silently (each comparison is false), so it is refused by name first, with
    /// the infinities, before any range is checked.
    /// </summary>
    private static void CheckFinite(RecognitionConfig config)
    {
        static void Check(bool present, double value, string field)
        {
            if (present && !double.IsFinite(value))
            {
                throw Invalid($"{field} must be a finite number, got {value}.");
            }
        }
        Check(config.HasWindowSeconds, config.WindowSeconds, "config.window_seconds");
        Check(config.HasHopSeconds, config.HopSeconds, "config.hop_seconds");
        Check(config.HasSmoothingSeconds, config.SmoothingSeconds, "config.smoothing_seconds");
        if (config.Vad is { } vad)
        {
            Check(vad.HasStartThreshold, vad.StartThreshold, "config.vad.start_threshold");
            Check(vad.HasEndThreshold, vad.EndThreshold, "config.vad.end_threshold");
        }
    }

    private static RpcException Invalid(string message) =>
        new(new Status(StatusCode.InvalidArgument, message));
}
