using Microsoft.Playwright;
using RealtimeSer.Core;
using RealtimeSer.Core.Inference;
using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>
/// Debian's chromium driven by Playwright (its own browser download is not used), against an in-process
/// server with the installed default model. Skips, saying what is missing, without chromium, the model or
/// the Silero VAD. The microphone is Chromium's fake capture device playing <c>captureWav</c>.
/// </summary>
internal sealed class BrowserSession : IAsyncDisposable
{
    public const string ChromiumVariable = "REALTIMESER_CHROMIUM";
    private readonly OnnxEmotionClassifier[] _classifiers;
    private readonly SileroVadModel _vad;
    private readonly EmotionEngine _engine;
    private readonly IPlaywright _playwright;

    private BrowserSession(
        OnnxEmotionClassifier[] classifiers,
        SileroVadModel vad,
        EmotionEngine engine,
        SerServer server,
        IPlaywright playwright,
        IBrowser browser,
        IBrowserContext context
    )
    {
        _classifiers = classifiers;
        _vad = vad;
        _engine = engine;
        Server = server;
        _playwright = playwright;
        Browser = browser;
        Context = context;
    }

    public SerServer Server { get; }
    public IBrowser Browser { get; }
    public IBrowserContext Context { get; }

    public IReadOnlyList<string> Labels => _classifiers[0].Manifest.Labels;

    public string Url(string path) => $"http://127.0.0.1:{Server.Port}{path}";

    public static string? FindChromium()
    {
        if (Environment.GetEnvironmentVariable(ChromiumVariable) is { Length: > 0 } set)
        {
            return File.Exists(set) ? set : null;
        }
        foreach (var name in new[] { "chromium", "chromium-browser" })
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            {
                var path = Path.Combine(dir, name);
                if (dir.Length > 0 && File.Exists(path))
                {
                    return path;
                }
            }
        }
        return null;
    }

    /// <summary>Where screenshots go: beside the test results (test.sh keeps .cache/test-results).</summary>
    public static string ScreenshotPath(string name)
    {
        var dir = Path.Combine(TestPaths.RepoRoot, ".cache", "test-results", "screenshots");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    /// <summary>A server on the default model, or on <paramref name="models"/> (ids) run on the same windows.</summary>
    public static async Task<BrowserSession> StartAsync(
        string? captureWav,
        string? apiKey = null,
        IReadOnlyList<string>? models = null
    )
    {
        var chromium = FindChromium();
        Skip.If(
            chromium is null,
            $"needs Debian's chromium (apt-get install chromium; tools/bootstrap installs it) or {ChromiumVariable}=PATH"
        );
        Skip.If(ModelCatalog.List().Count == 0, "no emotion model installed (the default is in models/)");
        var vad = TestPaths.LoadVad();
        OnnxEmotionClassifier[] classifiers =
        [
            .. (models ?? [ModelCatalog.Resolve(null).Id]).Select(id =>
                OnnxEmotionClassifier.Load(ModelCatalog.Resolve(id))
            ),
        ];
        var engine = new EmotionEngine(
            classifiers,
            vad,
            new EngineOptions { Overload = OverloadPolicy.DropOldest }
        );
        var server = SerServer.Create(
            new ModelRegistry(engine),
            new ServerOptions
            {
                Port = 0,
                MetricsPort = -1,
                Host = "127.0.0.1",
                ShutdownGraceSeconds = 1,
                StatsIntervalSeconds = 1,
                ApiKeyHashes = apiKey is null ? [] : [ApiKeyAuthenticator.Hash(apiKey)],
            },
            _ => { }
        );
        await server.StartAsync();
        var playwright = await Playwright.CreateAsync();
        var args = new List<string>
        {
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
        };
        if (captureWav is not null)
        {
            // %noloop: play the file once, then silence (the default loops it).
            args.Add($"--use-file-for-fake-audio-capture={captureWav}%noloop");
        }
        var browser = await playwright.Chromium.LaunchAsync(
            new BrowserTypeLaunchOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                Args = args,
                Timeout = 60_000,
            }
        );
        var context = await browser.NewContextAsync(
            new BrowserNewContextOptions
            {
                ViewportSize = new ViewportSize { Width = 1100, Height = 900 },
                ColorScheme = ColorScheme.Light,
            }
        );
        await context.GrantPermissionsAsync(
            ["microphone"],
            new() { Origin = $"http://127.0.0.1:{server.Port}" }
        );
        return new BrowserSession(classifiers, vad, engine, server, playwright, browser, context);
    }

    public async ValueTask DisposeAsync()
    {
        await Context.DisposeAsync();
        await Browser.DisposeAsync();
        _playwright.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        await _engine.DisposeAsync();
        foreach (var classifier in _classifiers)
        {
            classifier.Dispose();
        }
        _vad.Dispose();
    }
}
