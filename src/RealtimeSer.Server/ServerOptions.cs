using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>
/// Server settings, bound from the "Server" section of appsettings.json, REALTIMESER_SERVER__* environment
/// variables and --Server:* command-line keys (later sources win).
/// </summary>
public sealed class ServerOptions
{
    public const string Section = "Server";

    /// <summary>"localhost" (default), "*" for every interface, or an IP address.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>gRPC port; 0 picks a free one (tests).</summary>
    public int Port { get; set; } = 50051;

    /// <summary>Prometheus text endpoint port (/metrics); 0 picks a free one, negative disables it.</summary>
    public int MetricsPort { get; set; } = 9464;

    /// <summary>PEM certificate chain; with <see cref="TlsKey"/> the gRPC port speaks TLS.</summary>
    public string? TlsCertificate { get; set; }

    public string? TlsKey { get; set; }

    /// <summary>Accepted API keys as <c>sha256:&lt;hex&gt;</c>; empty means no authentication.</summary>
    public List<string> ApiKeyHashes { get; set; } = [];

    /// <summary>
    /// The default model set, comma-separated ids or folders (e.g. "general6,arousal3a": every stream that names
    /// no model gets both, on the same windows); empty takes the installed default model. `--model` overrides.
    /// </summary>
    public string? Models { get; set; }

    public int MaxConcurrentStreams { get; set; } = 64;

    /// <summary>
    /// Adaptive admission: refuse new streams (RESOURCE_EXHAUSTED) while live streams' end-to-end p95 over the
    /// last <see cref="AdmissionWindowSeconds"/> is above <see cref="LatencyObjectiveMs"/> or they shed audio.
    /// </summary>
    public bool AdaptiveAdmission { get; set; } = true;

    /// <summary>The live latency objective (p95, end to end) that adaptive admission defends.</summary>
    public double LatencyObjectiveMs { get; set; } = 500;

    public double AdmissionWindowSeconds { get; set; } = 5;

    /// <summary>
    /// Live streams skip their oldest audio once more than this waits for the VAD (0: never shed); default
    /// the latency objective less room for inference and delivery (<c>EngineOptions.MaxBacklogSeconds</c>).
    /// </summary>
    public double MaxBacklogSeconds { get; set; } = EngineOptions.DefaultMaxBacklogSeconds;

    /// <summary>
    /// Silero VAD frames of all streams and channels scored in shared runs of up to this many (the per-frame
    /// cost falls with the batch, so more streams fit per core); 0 (the default) scores
    /// each channel's frames on its own, which degrades more gracefully past capacity (EngineOptions.VadMaxBatch).
    /// </summary>
    public int VadMaxBatch { get; set; }

    /// <summary>Longest stream, in seconds of audio.</summary>
    public double MaxStreamSeconds { get; set; } = 4 * 3600;

    public int MaxMessageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Concurrent streams (StreamingRecognize and Recognize) one API key may hold; 0 means only the
    /// server-wide <see cref="MaxConcurrentStreams"/> applies. Needs <see cref="ApiKeyHashes"/>.
    /// </summary>
    public int MaxStreamsPerKey { get; set; }

    /// <summary>
    /// Calls per second one API key may start (token bucket, refilled continuously); 0 turns the limit off.
    /// Needs <see cref="ApiKeyHashes"/>.
    /// </summary>
    public double RequestsPerSecondPerKey { get; set; }

    /// <summary>Bucket size for <see cref="RequestsPerSecondPerKey"/>: calls a key may start at once after a pause.</summary>
    public int RequestBurstPerKey { get; set; } = 20;

    /// <summary>
    /// A stream that delivers no complete request message for this long ends with DEADLINE_EXCEEDED, so
    /// clients that vanish silently or trickle bytes (slow-loris) cannot hold a slot; 0 turns it off.
    /// </summary>
    public double StreamIdleTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// A stream whose client has not taken its events (or a dashboard feed whose reader has not taken a snapshot)
    /// for this long ends with DEADLINE_EXCEEDED and frees its slot: a client that sends audio but never reads
    /// would otherwise hold the slot for as long as its connection lives. 0 turns it off.
    /// </summary>
    public double EventDeliveryTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Kestrel's bound on a request's headers (a client that opens a connection and sends part of a request);
    /// a connection that sends nothing at all is closed after <see cref="ConnectionSilenceSeconds"/>.
    /// </summary>
    public double RequestHeadersTimeoutSeconds { get; set; } = 15;

    /// <summary>An open connection that sends no byte for this long is closed before any request is read.</summary>
    public double ConnectionSilenceSeconds { get; set; } = 10;

    /// <summary>Kestrel's bound on an idle connection between requests (HTTP/1.1) or with no stream (HTTP/2).</summary>
    public double KeepAliveTimeoutSeconds { get; set; } = 60;

    /// <summary>How long live streams may go on after shutdown begins.</summary>
    public double ShutdownGraceSeconds { get; set; } = 10;

    /// <summary>How often stream_stats responses are sent.</summary>
    public double StatsIntervalSeconds { get; set; } = 5;

    /// <summary>Bounds on per-stream overrides.</summary>
    public double MinWindowSeconds { get; set; } = 0.25;

    public double MaxWindowSeconds { get; set; } = 10;

    public double MinHopSeconds { get; set; } = 0.1;

    public double MaxSmoothingSeconds { get; set; } = 30;

    /// <summary>
    /// Serve the browser pages (microphone demo at /, dashboard at /dashboard) and their WebSocket and HTTP
    /// endpoints on the gRPC port. Off leaves the port speaking HTTP/2 only.
    /// </summary>
    public bool Web { get; set; } = true;

    /// <summary>
    /// Origins (scheme://host:port) besides the server's own that may open the WebSocket, upload recordings or
    /// read the dashboard from a browser; requests from any other site are refused.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>Largest recording the page may upload for analysis.</summary>
    public long MaxUploadBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Uploads decoded and analysed at once; the default is half the cores, at least one.</summary>
    public int MaxConcurrentUploads { get; set; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Uploads that may wait for a turn; more are refused with RESOURCE_EXHAUSTED (HTTP 429).</summary>
    public int MaxQueuedUploads { get; set; } = 16;

    /// <summary>
    /// Where uploads wait while they are analysed (each under a random name, deleted after); empty: a folder of
    /// this process's own under the system's temporary folder, readable by this user only.
    /// </summary>
    public string? UploadFolder { get; set; }

    public DashboardOptions Dashboard { get; set; } = new();

    /// <summary>The live engine these settings ask for: the backlog bound and VAD batching are the engine's.</summary>
    public EngineOptions ToEngineOptions() =>
        new()
        {
            Overload = OverloadPolicy.DropOldest,
            MaxBacklogSeconds = MaxBacklogSeconds,
            MaxQueuedSeconds = Math.Max(5, MaxBacklogSeconds),
            VadMaxBatch = VadMaxBatch,
        };

    public void Validate()
    {
        if (Port is < 0 or > 65535 || MetricsPort > 65535)
        {
            throw new ArgumentException("ports must be in 0–65535.");
        }
        if (Port > 0 && MetricsPort == Port)
        {
            throw new ArgumentException(
                $"gRPC and metrics cannot share port {Port}: give --metrics-port (Server:MetricsPort) another port, or -1 to turn metrics off."
            );
        }
        if (string.IsNullOrEmpty(TlsCertificate) != string.IsNullOrEmpty(TlsKey))
        {
            throw new ArgumentException("TLS needs both a certificate and a key (PEM files).");
        }
        if (MaxConcurrentStreams < 1 || MaxMessageBytes < 1024 || MaxStreamSeconds <= 0)
        {
            throw new ArgumentException(
                "max concurrent streams must be ≥ 1, max message size ≥ 1024 bytes, max stream length > 0."
            );
        }
        if (LatencyObjectiveMs <= 0 || AdmissionWindowSeconds <= 0)
        {
            throw new ArgumentException("the latency objective and admission window must be > 0.");
        }
        ToEngineOptions().Validate();
        if (StatsIntervalSeconds <= 0 || ShutdownGraceSeconds < 0)
        {
            throw new ArgumentException("stats interval must be > 0 and the shutdown grace ≥ 0.");
        }
        if (
            MaxStreamsPerKey < 0
            || RequestsPerSecondPerKey < 0
            || RequestBurstPerKey < 1
            || StreamIdleTimeoutSeconds < 0
        )
        {
            throw new ArgumentException(
                "per-key stream and rate limits and the idle timeout must be ≥ 0 (0 = off), the burst ≥ 1."
            );
        }
        if (MaxUploadBytes < 1024 || MaxConcurrentUploads < 1 || MaxQueuedUploads < 0)
        {
            throw new ArgumentException(
                "max upload size must be ≥ 1024 bytes, concurrent uploads ≥ 1 and queued uploads ≥ 0."
            );
        }
        if (
            !(EventDeliveryTimeoutSeconds >= 0)
            || !(RequestHeadersTimeoutSeconds > 0)
            || !(ConnectionSilenceSeconds > 0)
            || !(KeepAliveTimeoutSeconds > 0)
        )
        {
            throw new ArgumentException(
                "the event delivery timeout must be ≥ 0 (0 = off); the header, silence and keep-alive timeouts > 0."
            );
        }
        if (AllowedOrigins.Exists(o => !Uri.TryCreate(o, UriKind.Absolute, out _)))
        {
            throw new ArgumentException(
                "allowed origins must be absolute like https://example.org or http://localhost:8080."
            );
        }
        Dashboard.Validate();
        _ = ApiKeyAuthenticator.ParseHashes(ApiKeyHashes);
    }
}
