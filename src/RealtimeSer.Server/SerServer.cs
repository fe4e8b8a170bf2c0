using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Server;

/// <summary>
/// The RealtimeSer gRPC service on Kestrel (HTTP/2; cleartext h2c by default, TLS from PEM files) plus a
/// Prometheus /metrics endpoint on its own port (the OpenTelemetry SDK's exporter, HTTP/1.1). Construct with
/// any engines (tests use a fake model).
/// </summary>
public sealed class SerServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebApplication? _metricsApp;
    private readonly ServerMetrics _metrics;
    private readonly EmotionService _service;
    private readonly StreamAdmission _admission;
    private readonly Http1Relay _relay;
    private ListenOptions? _http1;
    private readonly ILogger _logger;

    private SerServer(ModelRegistry models, ServerOptions options, Action<ILoggingBuilder>? logging)
    {
        options.Validate();
        Options = options;
        Models = models;
        Lifetime = new ServerLifetime();
        // The server's meters come from the default engine's factory, so that /metrics exports exactly this
        // engine's and this server's instruments, not those of other servers in the process (tests run many).
        var meters = models.Default.Metrics.Factory;
        Governor = new LoadGovernor(options, meters: meters);
        Governor.Watch(models.Engines.Select(e => e.Metrics.Meter));
        _metrics = new ServerMetrics(meters);
        Capacity = new CapacityReporter(this, _metrics.Meter);

        var access = new AccessPolicy(options);
        _relay = new Http1Relay(
            () =>
                (_http1?.IPEndPoint?.Port is > 0 and var port)
                    ? port
                    : throw new InvalidOperationException("the HTTP/1.1 side is not bound yet."),
            TimeSpan.FromSeconds(options.ConnectionSilenceSeconds)
        );
        var builder = WebApplication.CreateSlimBuilder(
            new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory }
        );
        ConfigureLogging(builder.Logging, logging);
        builder.Services.Configure<HostOptions>(h =>
            h.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownGraceSeconds + 5)
        );
        AddGrpcServices(builder.Services, options);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k => ConfigureKestrel(k, options));
        _app = builder.Build();
        _logger = _app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RealtimeSer.Server");
        _relay.Logger = _logger;
        Governor.Logger = _logger;
        var auth = new ApiKeyAuthenticator(options.ApiKeyHashes);
        _admission = new StreamAdmission(options, Lifetime, auth, _logger, Governor);
        Governor.ActiveStreams = () => (int)_admission.LiveStreams;
        Streams = new StreamRegistry(options.Dashboard) { Governor = Governor };
        var sessions = new SessionServices(
            models,
            options,
            Lifetime,
            _admission,
            Streams,
            new EventDelivery(options, _metrics),
            _logger
        );
        _service = new EmotionService(sessions);
        MapEndpoints(_app, sessions, access, new UnhandledCallOutcomes(options, _metrics, _logger));
        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(BeginShutdown);

        if (options.MetricsPort >= 0)
        {
            _metricsApp = BuildMetricsApp(options, meters, access, logging);
        }
    }

    /// <summary>The gRPC services and what they are built from, with the interceptors every call passes.</summary>
    private void AddGrpcServices(IServiceCollection services, ServerOptions options)
    {
        services
            .AddGrpc(g =>
            {
                g.MaxReceiveMessageSize = options.MaxMessageBytes;
                // Outermost, so that it sees every call's end, refusals by the admission rules included.
                g.Interceptors.Add<CallOutcomeInterceptor>();
                g.Interceptors.Add<ErrorInterceptor>();
                // gzip from clients, inflated no further than the message limit; identity is always accepted.
                g.CompressionProviders = [new BoundedGzipProvider(() => options.MaxMessageBytes)];
            })
            .AddServiceOptions<EmotionService>(g => g.Interceptors.Add<AdmissionInterceptor>());
        StrictServiceMethodProvider<EmotionService>.Replace(services);
        services.AddGrpcReflection();
        // The services are built once the app's logger exists (below) and resolved on the first call.
        services.AddSingleton(_metrics);
        services.AddSingleton(_ => _admission!);
        services.AddSingleton(_ => _service!);
        services.AddSingleton(_ => new HealthService(Lifetime));
    }

    /// <summary>The public port (cleartext h2c with the HTTP/1.1 relay, or TLS) and its connection limits.</summary>
    private void ConfigureKestrel(KestrelServerOptions k, ServerOptions options)
    {
        k.AddServerHeader = false;
        k.Limits.Http2.MaxStreamsPerConnection = Math.Max(100, options.MaxConcurrentStreams * 2);
        LimitConnections(k, options);
        if (options.Web && string.IsNullOrEmpty(options.TlsCertificate))
        {
            k.Listen(
                IPAddress.Loopback,
                0,
                l =>
                {
                    l.Protocols = HttpProtocols.Http1;
                    _http1 = l;
                }
            );
        }
        Listen(
            k,
            options.Host,
            options.Port,
            listen =>
            {
                if (!string.IsNullOrEmpty(options.TlsCertificate))
                {
                    listen.Use(_relay.SilenceGuard);
                    // HTTP/2 only, negotiated by ALPN: gRPC never needs HTTP/1.1, and browsers speak
                    // HTTP/2 (WebSockets too, RFC 8441) to a TLS server.
                    listen.Protocols = HttpProtocols.Http2;
                    listen.UseHttps(
                        X509Certificate2.CreateFromPemFile(options.TlsCertificate, options.TlsKey)
                    );
                }
                else
                {
                    // Cleartext HTTP/2 only (prior knowledge, "h2c"): gRPC never needs HTTP/1.1;
                    // browsers' HTTP/1.1 connections are passed to the loopback side (Http1Relay).
                    listen.Protocols = HttpProtocols.Http2;
                    listen.Use(options.Web ? _relay.Middleware : _relay.SilenceGuard);
                }
            }
        );
    }

    /// <summary>The endpoints in the order requests meet them: access rule, pages, then gRPC and gRPC-Web.</summary>
    private void MapEndpoints(
        WebApplication app,
        SessionServices sessions,
        AccessPolicy access,
        UnhandledCallOutcomes outcomes
    )
    {
        var options = sessions.Options;
        // Host and Origin for everything a browser could send, before any endpoint runs.
        app.Use(access.InvokeAsync);
        app.Use(outcomes.InvokeAsync);
        if (options.Web)
        {
            app.MapWeb(sessions);
        }
        app.Use(GrpcHeaderCheck.InvokeAsync);
        // gRPC-Web (unary and server streaming) for browsers, on the same port and services.
        app.UseGrpcWeb(new GrpcWebOptions { DefaultEnabled = true });
        app.Use(IdleRequestBody.For(options, EmotionService.Service.TrimEnd('/')));
        // Unknown methods and services get UNIMPLEMENTED from Grpc.AspNetCore itself.
        app.MapGrpcService<EmotionService>();
        app.MapGrpcService<HealthService>();
        // grpc.reflection.v1 and v1alpha: grpcurl and IDE clients discover the API without the proto files.
        app.MapGrpcReflectionService();
    }

    /// <summary>/metrics on its own port: this server's meters only, as Prometheus text.</summary>
    private static WebApplication BuildMetricsApp(
        ServerOptions options,
        IMeterFactory meters,
        AccessPolicy access,
        Action<ILoggingBuilder>? logging
    )
    {
        var metrics = WebApplication.CreateSlimBuilder(
            new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory }
        );
        ConfigureLogging(metrics.Logging, logging);
        metrics.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            LimitConnections(k, options);
            // HTTP/1.1 only: Prometheus scrapes with it, and a cleartext port cannot offer HTTP/2 beside
            // HTTP/1.1 (Kestrel warns when asked to).
            Listen(k, options.Host, options.MetricsPort, l => l.Protocols = HttpProtocols.Http1);
        });
        // This host's own meters (MeterScope.Local) are those of the engine's factory: it is the host's
        // IMeterFactory. Meters of the same names elsewhere in the process are not this server's.
        metrics.Services.AddSingleton(meters);
        metrics.Services.AddMetrics(m =>
            m.EnableMetrics(EngineMetrics.MeterName, scopes: MeterScope.Local)
                .EnableMetrics(LoadGovernor.MeterName, scopes: MeterScope.Local)
                // One active-streams gauge: the admitted streams (ser_streams_admitted), which the
                // stream limit counts, not the engine's own count as well.
                .DisableMetrics(EngineMetrics.MeterName, "ser.streams.active", scopes: MeterScope.Local)
        );
        metrics
            .Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("realtime-ser"))
            .WithMetrics(m =>
                m.AddPrometheusExporter(o =>
                {
                    // Every scrape reads the current values (the default caches them for 300 ms).
                    o.ScrapeResponseCacheDurationMilliseconds = 0;
                    // The series keep their plain names and labels; the meter name is no label.
                    o.ScopeInfoEnabled = false;
                })
            );
        var app = metrics.Build();
        app.Use(access.InvokeAsync);
        app.MapPrometheusScrapingEndpoint();
        return app;
    }

    public ServerOptions Options { get; }

    public ModelRegistry Models { get; }

    public ServerLifetime Lifetime { get; }

    /// <summary>Streams admitted and not yet finished.</summary>
    public long LiveStreams => _admission.LiveStreams;

    /// <summary>Live streams as the dashboard shows them (gRPC and browser alike).</summary>
    public StreamRegistry Streams { get; }

    /// <summary>The capacity gauges, labelled with this replica's id.</summary>
    public CapacityReporter Capacity { get; }

    /// <summary>Adaptive admission: live latency and shedding, and whether new streams are refused.</summary>
    public LoadGovernor Governor { get; }

    /// <summary>The bound gRPC port (known after <see cref="StartAsync"/>).</summary>
    public int Port { get; private set; }

    public int? MetricsPort { get; private set; }

    public Uri Address =>
        new($"{(string.IsNullOrEmpty(Options.TlsCertificate) ? "http" : "https")}://127.0.0.1:{Port}");

    public static SerServer Create(
        ModelRegistry models,
        ServerOptions options,
        Action<ILoggingBuilder>? logging = null
    )
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        return new SerServer(models, options, logging);
    }

    /// <summary>appsettings.json (next to the program, then the working folder), REALTIMESER_ environment, command line.</summary>
    public static ServerOptions LoadOptions(
        string[] args,
        IEnumerable<KeyValuePair<string, string?>>? overrides = null
    )
    {
        var config = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
            .AddEnvironmentVariables("REALTIMESER_")
            .AddCommandLine(args)
            .AddInMemoryCollection(overrides ?? [])
            .Build();
        var options = new ServerOptions();
        config.GetSection(ServerOptions.Section).Bind(options);
        return options;
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        // Asked before the hosts start: a host that cannot bind logs the failure with its whole stack first.
        ThrowIfTaken(Options.Host, Options.Port, "gRPC", "--port (Server:Port)");
        ThrowIfTaken(Options.Host, Options.MetricsPort, "metrics", "--metrics-port (Server:MetricsPort)");
        try
        {
            await _app.StartAsync(cancellationToken);
        }
        catch (IOException e)
            when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            // Taken between the check above and the bind.
            throw Taken(Options.Host, Options.Port, "gRPC", "--port (Server:Port)", e);
        }
        Port = BoundPort(_app, _http1?.IPEndPoint?.Port);
        ServerLog.Listening(_logger, Address.ToString());
        if (Options.Web)
        {
            ServerLog.WebPages(_logger, Address.ToString().TrimEnd('/'));
        }
        if (_metricsApp is not null)
        {
            try
            {
                await _metricsApp.StartAsync(cancellationToken);
            }
            catch (IOException e)
                when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                throw Taken(
                    Options.Host,
                    Options.MetricsPort,
                    "metrics",
                    "--metrics-port (Server:MetricsPort)",
                    e
                );
            }
            MetricsPort = BoundPort(_metricsApp, null);
            ServerLog.MetricsListening(_logger, $"http://127.0.0.1:{MetricsPort}");
        }
    }

    /// <summary>Runs until <paramref name="cancellationToken"/> fires or the host is told to stop (Ctrl+C).</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken);
        await _app.WaitForShutdownAsync(cancellationToken);
        await StopAsync(CancellationToken.None);
    }

    /// <summary>NOT_SERVING, refuse new streams, let live ones finish for the grace period, then stop.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        BeginShutdown();
        await _app.StopAsync(cancellationToken);
        if (_metricsApp is not null)
        {
            await _metricsApp.StopAsync(cancellationToken);
        }
    }

    private void BeginShutdown()
    {
        if (!Lifetime.IsStopping)
        {
            ServerLog.ShuttingDown(_logger, LiveStreams, Options.ShutdownGraceSeconds);
        }
        Lifetime.BeginShutdown(TimeSpan.FromSeconds(Options.ShutdownGraceSeconds));
    }

    private static void ConfigureLogging(ILoggingBuilder builder, Action<ILoggingBuilder>? logging)
    {
        // ASP.NET Core logs four information lines per call (request start and end, endpoint in and out); the
        // server's own log says what happened to each stream and call. The host's start-up lines name every
        // listener, the loopback HTTP/1.1 side of the relay first, which only puzzles: the server's own lines
        // say where it listens. A more specific category brings any of them back, e.g.
        // `Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics=Information`.
        builder.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // Grpc.AspNetCore logs a client's cancellation (and the read it broke) at Information, with stack traces
        // of the transport: the stream's end line and the calls counter already say CANCELLED. Its errors stay.
        builder.AddFilter("Grpc.AspNetCore.Server.ServerCallHandler", LogLevel.Warning);
        if (logging is not null)
        {
            builder.ClearProviders();
            logging(builder);
        }
    }

    /// <summary>
    /// Bounds on connections that hold a socket without doing anything: part of a request's headers, or an
    /// idle connection between requests (Kestrel's own defaults: 30 s and 130 s). A connection that sends no
    /// byte at all is closed by the relay (<see cref="ServerOptions.ConnectionSilenceSeconds"/>).
    /// </summary>
    private static void LimitConnections(KestrelServerOptions k, ServerOptions options)
    {
        k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(options.RequestHeadersTimeoutSeconds);
        k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(options.KeepAliveTimeoutSeconds);
    }

    // A port some other socket listens on (a free port, or one only waiting out closed connections, passes: the
    // probe reuses addresses as Kestrel does). Ports 0 (any free one) and below (off) are never taken.
    private static void ThrowIfTaken(string host, int port, string what, string setting)
    {
        if (port <= 0)
        {
            return;
        }
        IPAddress[] addresses = host switch
        {
            "localhost" => [IPAddress.Loopback, IPAddress.IPv6Loopback],
            "*" or "0.0.0.0" or "::" or "[::]" => [IPAddress.Any],
            _ => IPAddress.TryParse(host, out var ip) ? [ip] : [],
        };
        foreach (var address in addresses)
        {
            using var probe = new System.Net.Sockets.Socket(
                address.AddressFamily,
                System.Net.Sockets.SocketType.Stream,
                System.Net.Sockets.ProtocolType.Tcp
            );
            probe.SetSocketOption(
                System.Net.Sockets.SocketOptionLevel.Socket,
                System.Net.Sockets.SocketOptionName.ReuseAddress,
                true
            );
            try
            {
                probe.Bind(new IPEndPoint(address, port));
            }
            catch (System.Net.Sockets.SocketException e)
                when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
            {
                throw Taken(host, port, what, setting, e);
            }
            catch (System.Net.Sockets.SocketException)
            {
                // Not a taken port (say, no IPv6 on this machine): Kestrel binds what it can and reports the rest.
            }
        }
    }

    private static ListenException Taken(
        string host,
        int port,
        string what,
        string setting,
        Exception inner
    ) =>
        new(
            $"cannot listen on {host}:{port} for {what}: the address is already in use (another `ser serve`?). "
                + $"Stop what holds it, or give another {setting}.",
            inner
        );

    private static void Listen(KestrelServerOptions k, string host, int port, Action<ListenOptions> configure)
    {
        if (host is "localhost" && port != 0)
        {
            k.ListenLocalhost(port, configure);
        }
        else if (host is "localhost" or "127.0.0.1")
        {
            k.Listen(IPAddress.Loopback, port, configure);
        }
        else if (host is "*" or "0.0.0.0" or "::" or "[::]")
        {
            k.ListenAnyIP(port, configure);
        }
        else
        {
            k.Listen(
                IPAddress.TryParse(host, out var ip)
                    ? ip
                    : throw new ArgumentException(
                        $"Host must be localhost, * or an IP address, got '{host}'."
                    ),
                port,
                configure
            );
        }
    }

    /// <summary>The public port: the first bound address that is not the loopback HTTP/1.1 side.</summary>
    private static int BoundPort(WebApplication app, int? except)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        return (addresses?.Addresses ?? [])
                .Select(a =>
                    new Uri(
                        a.Replace("[::]", "localhost", StringComparison.Ordinal)
                            .Replace("*", "localhost", StringComparison.Ordinal)
                    ).Port
                )
                .Where(p => p != except)
                .Cast<int?>()
                .FirstOrDefault()
            ?? throw new InvalidOperationException("the server has no bound address.");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        if (_metricsApp is not null)
        {
            await _metricsApp.DisposeAsync();
        }
        _metrics.Dispose();
        Governor.Dispose();
        await Models.DisposeAsync();
        Lifetime.Dispose();
    }
}
