using System.CommandLine;

namespace RealtimeSer.Cli.Commands;

/// <summary>Options several commands take, spelled once so that their names, defaults and help agree.</summary>
internal static class SharedOptions
{
    /// <summary><c>--batch</c>: the most windows per model run.</summary>
    public static Option<int> Batch(string? description = null) =>
        new("--batch") { Description = description, DefaultValueFactory = _ => 16 };

    /// <summary><c>--server</c> of a command that runs in process unless given a server.</summary>
    public static Option<string?> Server(string description) => new("--server") { Description = description };

    /// <summary><c>--api-key</c> of a command that talks to a server only with <c>--server</c>.</summary>
    public static Option<string?> ApiKey() =>
        new("--api-key") { Description = "With --server: sent as authorization: Bearer <key>." };

    /// <summary><c>--window</c> of a command that runs a stream (default: the model's).</summary>
    public static Option<double?> Window() =>
        new("--window") { Description = "Window seconds (default: the model's)." };

    /// <summary><c>--hop</c> of a command that runs a stream (default: the model's).</summary>
    public static Option<double?> Hop() =>
        new("--hop") { Description = "Hop seconds (default: the model's)." };
}
