using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server.Tests;

/// <summary>A server's log entries at Information and above, kept for a test to read.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly List<Entry> _entries = [];

    public sealed record Entry(
        LogLevel Level,
        string Category,
        string Text,
        string Values,
        Exception? Exception
    )
    {
        /// <summary>Everything the entry carries, its structured values too (what a log sink could print).</summary>
        public override string ToString() => $"{Level} {Category}: {Text} [{Values}] {Exception}";
    }

    public IReadOnlyList<Entry> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>Every entry in full, one per line.</summary>
    public string Text => string.Join("\n", Entries);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(
            LogLevel logLevel,
            EventId eventId,
            TState state,
            Exception? exception,
            Func<TState, Exception?, string> formatter
        )
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}"))
                : "";
            var entry = new Entry(logLevel, category, formatter(state, exception), values, exception);
            lock (owner._entries)
            {
                owner._entries.Add(entry);
            }
        }
    }
}
