using RealtimeSer.Core;

namespace RealtimeSer.Cli.Tests;

/// <summary>Runs <c>ser</c> in process with its console captured. Console redirection is process-wide, so
/// runs take turns behind a gate.</summary>
internal static class CliRunner
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        await Gate.WaitAsync();
        var stdout = Console.Out;
        var stderr = Console.Error;
        try
        {
            using var o = new StringWriter();
            using var e = new StringWriter();
            Console.SetOut(o);
            Console.SetError(e);
            var exit = await Program.Main(args);
            return (exit, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            Gate.Release();
        }
    }

    public static string SharedData =>
        Path.GetFullPath(Path.Combine(ModelLocator.RepositoryRoots().First(), "..", "shared", "data"));

    public static string RequireShared(string relative)
    {
        var path = Path.Combine(SharedData, relative);
        Skip.IfNot(File.Exists(path), $"needs {path} (../shared/data is not on this machine)");
        return path;
    }
}
