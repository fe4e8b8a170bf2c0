using System.Diagnostics;
using RealtimeSer.Core;

namespace RealtimeSer.Cli.Tests;

/// <summary>
/// Runs <c>ser</c> in a child process, as a user does: what only shows outside the test host (native
/// crashes, the process's own command line and environment) shows here.
/// </summary>
internal static class SerProcess
{
    /// <summary>The ser.dll built next to the tests.</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "ser.dll");

    /// <summary>Runs <c>dotnet DLL ARGS</c> (the ser.dll beside the tests unless <paramref name="dll"/> says otherwise).</summary>
    public static Task<(int Exit, string Out, string Err)> RunAsync(
        TimeSpan timeout,
        IEnumerable<string> args,
        Action<IDictionary<string, string?>>? environment = null,
        string? dll = null
    ) =>
        DotnetAsync(
            timeout,
            [dll ?? Dll, .. args],
            env =>
            {
                env["REALTIMESER_ROOT"] = ModelLocator.RepositoryRoots().First();
                environment?.Invoke(env);
            }
        );

    /// <summary>
    /// Runs <c>dotnet ARGS</c>; kills it and throws, naming the command, when it outlives <paramref name="timeout"/>.
    /// <paramref name="background"/> runs it under <c>nice -n 10</c>, so that heavy work (a build) slows the
    /// timing-sensitive tests that other test assemblies run at the same time less (not 19: on a loaded
    /// machine that starved the build past its timeout).
    /// </summary>
    public static Task<(int Exit, string Out, string Err)> DotnetAsync(
        TimeSpan timeout,
        IEnumerable<string> args,
        Action<IDictionary<string, string?>>? environment = null,
        bool background = false
    ) =>
        background
            ? ExecAsync(timeout, "nice", ["-n", "10", "dotnet", .. args], environment)
            : ExecAsync(timeout, "dotnet", args, environment);

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="args"/> (in <paramref name="workingDirectory"/> when
    /// given); kills it and throws, naming the command, when it outlives <paramref name="timeout"/>.
    /// </summary>
    public static async Task<(int Exit, string Out, string Err)> ExecAsync(
        TimeSpan timeout,
        string program,
        IEnumerable<string> args,
        Action<IDictionary<string, string?>>? environment = null,
        string? workingDirectory = null
    )
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        environment?.Invoke(start.Environment);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException(
                $"{program} {string.Join(' ', start.ArgumentList.Take(3))} ... did not finish in {timeout}: {await stderr}"
            );
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
