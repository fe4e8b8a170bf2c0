using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;

namespace RealtimeSer.Onnx;

/// <summary>
/// ONNX Runtime's own log (warnings and up). Lines go to stderr, one per message as ORT's default logger
/// writes them, except inside <see cref="Capture"/>, where they are collected instead: loading the CUDA
/// provider reports its real cause (e.g. "libcublasLt.so.13: cannot open shared object file") only in the
/// log, while the error it returns just says "Failed to load shared library".
/// </summary>
internal static partial class OrtLog
{
    [ThreadStatic]
    private static List<string>? t_captured;

    // Kept in a static field: ORT holds a native pointer to it for the life of the process.
    internal static readonly DOrtLoggingFunction Function = Write;

    /// <summary>Collects ORT's log lines on this thread until disposed (ORT logs on the calling thread while it loads providers).</summary>
    public static CaptureScope Capture() => new();

    private static void Write(
        IntPtr param,
        OrtLoggingLevel severity,
        string category,
        string logId,
        string codeLocation,
        string message
    )
    {
        if (t_captured is { } captured)
        {
            captured.Add(Essence(message));
            return;
        }
        Console.Error.WriteLine($"onnxruntime: {Level(severity)}: {message}");
    }

    private static string Level(OrtLoggingLevel severity) =>
        severity switch
        {
            OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING => "warning",
            OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR => "error",
            OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL => "fatal",
            _ => "info",
        };

    /// <summary>ORT's text without the source location and status prefix it puts in front.</summary>
    internal static string Essence(string message)
    {
        var match = StatusPrefix().Match(message);
        return (match.Success ? match.Groups[1].Value : message).Trim();
    }

    [GeneratedRegex(@"\[ONNXRuntimeError\] : \d+ : \w+ : (.*)$", RegexOptions.Singleline)]
    private static partial Regex StatusPrefix();

    /// <summary>What ORT logged on this thread while the scope was open.</summary>
    internal sealed class CaptureScope : IDisposable
    {
        private readonly List<string>? _outer = t_captured;
        private readonly List<string> _lines = [];

        public CaptureScope() => t_captured = _lines;

        public IReadOnlyList<string> Lines => _lines;

        public void Dispose() => t_captured = _outer;
    }
}
