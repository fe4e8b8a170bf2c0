using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "gRPC listening on {Address}")]
    public static partial void Listening(ILogger logger, string address);

    [LoggerMessage(2, LogLevel.Information, "Prometheus metrics on {Address}/metrics")]
    public static partial void MetricsListening(ILogger logger, string address);

    [LoggerMessage(
        3,
        LogLevel.Information,
        "Stream {Stream} opened: {Encoding} {Rate} Hz, {Channels} channel(s), model {Model}"
    )]
    public static partial void StreamOpened(
        ILogger logger,
        string stream,
        string encoding,
        int rate,
        int channels,
        string model
    );

    [LoggerMessage(
        4,
        LogLevel.Information,
        "Stream {Stream} ended with {Status} after {AudioSeconds:F1} s of audio, {Windows} windows ({Dropped} dropped)"
    )]
    public static partial void StreamEnded(
        ILogger logger,
        string stream,
        string status,
        double audioSeconds,
        long windows,
        long dropped
    );

    [LoggerMessage(5, LogLevel.Warning, "Call refused with {Status}: {Detail}")]
    public static partial void CallRefused(ILogger logger, string status, string detail);

    [LoggerMessage(6, LogLevel.Error, "Unexpected error in a call")]
    public static partial void Unexpected(ILogger logger, Exception error);

    [LoggerMessage(
        7,
        LogLevel.Information,
        "Shutting down: NOT_SERVING, draining {Streams} live stream(s) for up to {GraceSeconds} s"
    )]
    public static partial void ShuttingDown(ILogger logger, long streams, double graceSeconds);

    [LoggerMessage(8, LogLevel.Information, "Browser connection ended early: {Reason}")]
    public static partial void BrowserGone(ILogger logger, string reason);

    [LoggerMessage(
        9,
        LogLevel.Information,
        "Browser pages on {Address}/ (microphone) and {Address}/dashboard"
    )]
    public static partial void WebPages(ILogger logger, string address);

    [LoggerMessage(
        10,
        LogLevel.Warning,
        "Could not pass a browser connection to the HTTP/1.1 side: {Reason}"
    )]
    public static partial void RelayFailed(ILogger logger, string reason);

    [LoggerMessage(
        11,
        LogLevel.Warning,
        "Admission: overloaded (live p95 {P95Ms:F0} ms, objective {ObjectiveMs:F0} ms, audio shed recently: {Shed}); admitting no more than {Limit} streams"
    )]
    public static partial void AdmissionOverloaded(
        ILogger logger,
        double p95Ms,
        double objectiveMs,
        bool shed,
        int limit
    );

    [LoggerMessage(
        12,
        LogLevel.Information,
        "Admission: recovered (live p95 {P95Ms:F0} ms); admitting new streams"
    )]
    public static partial void AdmissionRecovered(ILogger logger, double p95Ms);

    [LoggerMessage(
        13,
        LogLevel.Information,
        "Call {Method} ended with {Status} (the client cancelled it or its deadline passed)"
    )]
    public static partial void CallAborted(ILogger logger, string method, string status);

    [LoggerMessage(14, LogLevel.Warning, "Could not remove the private upload folder {Folder}: {Reason}")]
    public static partial void UploadFolderLeft(ILogger logger, string folder, string reason);
}
