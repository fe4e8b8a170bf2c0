using System.Diagnostics;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests;

/// <summary>The official Node implementation (@grpc/grpc-js) against our server: tests/interop/interop.js.</summary>
public sealed class NodeInteropTests(ITestOutputHelper output)
{
    [SkippableFact]
    public Task Grpc_js_client_streams_the_call_and_sees_events_health_and_error_codes() =>
        RunInteropAsync(compression: null);

    [SkippableFact]
    public Task Grpc_js_client_that_compresses_its_messages_with_gzip_is_served() =>
        RunInteropAsync(compression: "gzip");

    private async Task RunInteropAsync(string? compression)
    {
        var wav = TestPaths.RequireCallFixture();
        var interop = Path.Combine(TestPaths.RepoRoot, "tests", "interop");
        Skip.IfNot(
            Directory.Exists(Path.Combine(interop, "node_modules", "@grpc", "grpc-js")),
            $"needs node and `npm ci` in {interop} (tools/bootstrap or: cd tests/interop && npm install --no-audit --no-fund)"
        );
        const string key = "interop-key";
        await using var server = await TestServer.StartAsync(o =>
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash(key)]
        );
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = interop,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (compression is not null)
        {
            start.Environment["INTEROP_COMPRESSION"] = compression;
        }
        foreach (var arg in new[] { "interop.js", $"127.0.0.1:{server.Server.Port}", wav, key })
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SkipException($"node is not installed: {e.Message}");
        }
        using (process)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            output.WriteLine(await stdout);
            output.WriteLine(await stderr);
            Assert.True(process.ExitCode == 0, $"interop.js failed:\n{await stdout}\n{await stderr}");
        }
    }
}
