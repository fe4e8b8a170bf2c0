using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace RealtimeSer.Server.Tests.Scaling;

/// <summary>
/// nginx as a child process (not a daemon) with the repository's deploy/nginx/realtime-ser.conf in front of
/// the given loopback replicas; prefix, config, pid, temp files and logs live in a temp folder.
/// </summary>
internal sealed partial class NginxFixture : IAsyncDisposable
{
    public const string Package = "nginx-light";

    private readonly Process _process;

    private NginxFixture(Process process, string directory, int port)
    {
        _process = process;
        Directory = directory;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public Uri Address => new($"http://127.0.0.1:{Port}");

    public string AccessLog => Path.Combine(Directory, "access.log");

    public string ErrorLog => Path.Combine(Directory, "error.log");

    /// <summary>The nginx binary on PATH or in /usr/sbin (Debian puts it there), or null.</summary>
    public static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin")
            .Select(d => Path.Combine(d, "nginx"))
            .FirstOrDefault(File.Exists);

    public static string RequireNginx() =>
        Find()
        ?? throw new SkipException(
            $"nginx not found on PATH or in /usr/sbin: install Debian's `{Package}` (apt-get install -y {Package}) to run the load-balancer tests"
        );

    public static async Task<NginxFixture> StartAsync(
        IEnumerable<int> replicaPorts,
        int failTimeoutSeconds = 10
    )
    {
        var nginx = RequireNginx();
        var directory = System.IO.Directory.CreateTempSubdirectory("ser-nginx-").FullName;
        var port = FreePort();
        var site = await File.ReadAllTextAsync(
            Path.Combine(TestPaths.RepoRoot, "deploy", "nginx", "realtime-ser.conf")
        );
        var servers = string.Join(
            "\n",
            replicaPorts.Select(p =>
                $"    server 127.0.0.1:{p} max_fails=1 fail_timeout={failTimeoutSeconds}s max_conns=20;"
            )
        );
        site = Replicas().Replace(site, $"# replicas-begin\n{servers}\n    # replicas-end");
        site = Listen().Replace(site, $"listen 127.0.0.1:{port} http2;");
        var config = $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log info;
            events { worker_connections 1024; }
            http {
                log_format upstream '$request_uri $status upstream=$upstream_addr';
                access_log {{directory}}/access.log upstream;
                client_body_temp_path {{directory}}/client_body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
            {{site}}
            }
            """;
        var path = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(path, config);
        var start = new ProcessStartInfo(nginx)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-p", directory, "-c", path, "-e", Path.Combine(directory, "error.log") })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start");
        var fixture = new NginxFixture(process, directory, port);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (process.HasExited)
            {
                var log = File.Exists(fixture.ErrorLog) ? await File.ReadAllTextAsync(fixture.ErrorLog) : "";
                throw new InvalidOperationException(
                    $"nginx exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync()} {log}"
                );
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return fixture;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        await fixture.DisposeAsync();
        throw new TimeoutException("nginx did not listen within 10 s");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"# replicas-begin.*?# replicas-end", RegexOptions.Singleline)]
    private static partial Regex Replicas();

    [GeneratedRegex(@"listen \d+ http2;")]
    private static partial Regex Listen();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException) { }
    }
}
