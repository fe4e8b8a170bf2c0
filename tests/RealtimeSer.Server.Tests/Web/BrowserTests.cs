using Grpc.Core;
using Microsoft.Playwright;
using RealtimeSer.Core.Models;
using RealtimeSer.Grpc;
using RealtimeSer.Server.Tests.Robustness;
using static RealtimeSer.Server.Tests.Web.WebTestSupport;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>
/// The pages in real Chromium: the microphone page fed by the fake capture device playing 30 s of the fixture
/// call, the dashboard following that stream, and a recording dropped on the page. Screenshots of each page
/// go to .cache/test-results/screenshots/. They run alone (real-time audio and a real model on few cores).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);

    private static async Task<string> TempWavAsync(byte[] wav)
    {
        var path = Path.Combine(
            Path.GetTempPath(),
            $"ser-browser-{Environment.ProcessId}-{Guid.NewGuid():N}.wav"
        );
        await File.WriteAllBytesAsync(path, wav);
        return path;
    }

    /// <summary>
    /// Records what each canvas's latest draw did (a draw starts with clearRect): the texts it wrote and the
    /// line width of each outline it stroked, in <c>window.__draws[canvasId]</c>.
    /// </summary>
    private const string RecordCanvasDraws = """
        (() => {
          const draws = (window.__draws = {});
          const P = CanvasRenderingContext2D.prototype;
          const of = (g) => (draws[g.canvas.id] ??= { texts: [], outlines: [] });
          const wrap = (name, record) => {
            const original = P[name];
            P[name] = function (...args) {
              record(this, args);
              return original.apply(this, args);
            };
          };
          wrap("clearRect", (g) => (draws[g.canvas.id] = { texts: [], outlines: [] }));
          wrap("fillText", (g, args) => of(g).texts.push(String(args[0])));
          wrap("strokeRect", (g) => of(g).outlines.push(g.lineWidth));
        })();
        """;

    /// <summary>
    /// A condition true once the canvas's latest draw wrote a label (whole or shortened) for every final the
    /// page lists in <paramref name="finalsList"/>.
    /// </summary>
    private static string EveryFinalLabelled(string canvas, string finalsList) =>
        $$"""
            () => {
              const draw = window.__draws?.["{{canvas}}"];
              const finals = [...document.querySelectorAll("{{finalsList}} li")].map((li) => li.dataset.label);
              if (!draw || finals.length === 0) return false;
              const written = draw.texts.filter((t) => finals.some((l) => l.startsWith(t)));
              return written.length === finals.length;
            }
            """;

    private static Task WaitAsync(IPage page, string condition, TimeSpan? within = null) =>
        page.WaitForFunctionAsync(
            condition,
            null,
            new PageWaitForFunctionOptions
            {
                Timeout = (float)(within ?? Long).TotalMilliseconds,
                PollingInterval = 200,
            }
        );

    [SkippableFact]
    public async Task The_microphone_page_shows_speech_and_labelled_finals_and_the_dashboard_follows_the_stream()
    {
        var capture = await TempWavAsync(CallSlice(0, 30, mono: true));
        try
        {
            await using var session = await BrowserSession.StartAsync(capture);
            await session.Context.AddInitScriptAsync(RecordCanvasDraws);
            var mic = await session.Context.NewPageAsync();
            var problems = new List<string>();
            mic.PageError += (_, e) => problems.Add(e);
            await mic.GotoAsync(session.Url("/"));
            await WaitAsync(mic, "() => document.body.dataset.ready === 'true'", TimeSpan.FromSeconds(20));
            Assert.Equal(session.Labels.Count, await mic.Locator("#bars .bar-row").CountAsync());

            await mic.GetByRole(AriaRole.Button, new() { Name = "Start" }).ClickAsync();
            await WaitAsync(mic, "() => !!document.body.dataset.stream", TimeSpan.FromSeconds(30));
            var stream = await mic.EvaluateAsync<string>("() => document.body.dataset.stream");

            // A gRPC call at the same time: the dashboard lists both kinds.
            using var grpcClient = new TestClient(session.Server.Address);
            var config = Streams.MulawStereo();
            config.ChannelNames.AddRange(new[] { "agent", "customer" });
            var call = Streams.RunAsync(
                grpcClient,
                config,
                Streams.Slice(TestPaths.WavData(TestPaths.RequireCallFixture()), 30, 25),
                paced: true
            );

            var dashboard = await session.Context.NewPageAsync();
            await dashboard.GotoAsync(session.Url("/dashboard"));
            var row = dashboard.Locator($"tr[data-stream='{stream}']");
            await row.First.WaitForAsync(new() { Timeout = 30_000 });
            Assert.Equal("browser", await row.First.GetAttributeAsync("data-source"));
            var grpcRows = dashboard.Locator("tr[data-source='grpc']");
            await grpcRows.First.WaitForAsync(new() { Timeout = 30_000 });
            Assert.Equal(2, await grpcRows.CountAsync());

            await WaitAsync(mic, "() => Number(document.querySelector('#counts').dataset.speech || 0) >= 1");
            await WaitAsync(mic, "() => Number(document.querySelector('#counts').dataset.finals || 0) >= 6");
            var labels = await mic.Locator("#finals li")
                .EvaluateAllAsync<string[]>("items => items.map(li => li.dataset.label)");
            Assert.True(labels.Length >= 6, $"{labels.Length} finals on the page");
            Assert.All(labels, l => Assert.Contains(l, session.Labels));
            Assert.Matches(@"^\d+ ms$", await mic.Locator("#lat-p50").InnerTextAsync());
            Assert.Matches(@"^\d+ ms$", await mic.Locator("#lat-p95").InnerTextAsync());
            Assert.Contains(await mic.Locator("#current-label").InnerTextAsync(), session.Labels);
            // The legend explains every mark of the timeline, and every final's span carries its label
            // (1–3 s turns are 15–45 px wide in the minute the live timeline shows).
            Assert.Equal(1, await mic.Locator("#legend [data-kind='speech']").CountAsync());
            Assert.Equal(1, await mic.Locator("#legend [data-kind='final']").CountAsync());
            Assert.Equal(1, await mic.Locator("#legend [data-kind='interim']").CountAsync());
            Assert.Equal(
                session.Labels,
                await mic.Locator("#legend [data-kind='label']")
                    .EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.label)")
            );
            await WaitAsync(mic, EveryFinalLabelled("timeline", "#finals"), TimeSpan.FromSeconds(10));
            // The dashboard: the alert rule names only the model's own spelling of anger, a share is drawn
            // against a track of 100 %, and the last final stays on one line.
            await WaitAsync(
                dashboard,
                "() => document.getElementById('alert-labels').textContent === 'angry'",
                TimeSpan.FromSeconds(15)
            );
            var shares = await dashboard
                .Locator(".share")
                .EvaluateAllAsync<double[][]>(
                    """
                    items => items.map(s => [
                      s.querySelector('.share-fill').getBoundingClientRect().width / s.querySelector('.share-track').clientWidth,
                      parseInt(s.textContent) / 100,
                    ])
                    """
                );
            Assert.NotEmpty(shares);
            Assert.All(shares, s => Assert.InRange(s[0], s[1] - 0.03, s[1] + 0.03));
            var lastFinals = await dashboard
                .Locator("td.last-final")
                .EvaluateAllAsync<string[]>("cells => cells.map(c => getComputedStyle(c).whiteSpace)");
            Assert.NotEmpty(lastFinals);
            Assert.All(lastFinals, w => Assert.Equal("nowrap", w));
            // The dashboard has caught a label for this stream by now.
            await WaitAsync(
                dashboard,
                $"() => [...document.querySelectorAll(\"tr[data-stream='{stream}'] td[data-label]\")].some(td => td.dataset.label)",
                TimeSpan.FromSeconds(15)
            );
            await mic.BringToFrontAsync();
            await mic.ScreenshotAsync(
                new() { Path = BrowserSession.ScreenshotPath("microphone.png"), FullPage = true }
            );
            await dashboard.BringToFrontAsync();
            await dashboard.ScreenshotAsync(
                new() { Path = BrowserSession.ScreenshotPath("dashboard.png"), FullPage = true }
            );

            await mic.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
            await WaitAsync(
                mic,
                "() => document.querySelector('#status').textContent.startsWith('Stopped')",
                TimeSpan.FromSeconds(30)
            );
            // Speech off: the emotion still shown is marked as the last result, not what is heard now.
            Assert.Equal("off", await mic.Locator("#speech").GetAttributeAsync("data-state"));
            Assert.Equal("true", await mic.Locator("#now").GetAttributeAsync("data-stale"));
            Assert.Matches(
                @"^last result, up to \d+\.\d s; no speech now$",
                await mic.Locator("#current-note").InnerTextAsync()
            );
            await row.First.WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = 15_000 });
            Assert.Equal(StatusCode.OK, (await call).Status.StatusCode);
            await grpcRows.First.WaitForAsync(
                new() { State = WaitForSelectorState.Detached, Timeout = 15_000 }
            );
            Assert.True(await dashboard.Locator("#empty").IsVisibleAsync());
            Assert.Equal(0, session.Server.Streams.Count);
            Assert.Empty(problems);
        }
        finally
        {
            File.Delete(capture);
        }
    }

    [SkippableFact]
    public async Task With_emotion_and_arousal_every_final_of_a_dropped_recording_shows_both()
    {
        Skip.If(
            !ModelCatalog.List().Any(m => m.Id == "arousal3"),
            "arousal3 is not installed (models/arousal3)"
        );
        var wav = CallSlice(0, 20, mono: false);
        await using var session = await BrowserSession.StartAsync(
            captureWav: null,
            models: [ModelCatalog.Resolve(null).Id, "arousal3"]
        );
        var page = await session.Context.NewPageAsync();
        await page.GotoAsync(session.Url("/"));
        await WaitAsync(page, "() => document.body.dataset.ready === 'true'", TimeSpan.FromSeconds(20));
        await page.Locator("#file")
            .SetInputFilesAsync(
                new FilePayload
                {
                    Name = "call-20s.wav",
                    MimeType = "audio/wav",
                    Buffer = wav,
                }
            );
        await WaitAsync(
            page,
            "() => !document.getElementById('file-result').hidden",
            TimeSpan.FromSeconds(60)
        );
        // textContent: the list may sit in a collapsed section, where innerText is empty.
        var finals = await page.Locator("#file-finals li")
            .EvaluateAllAsync<string[]>("items => items.map(li => li.textContent)");
        Assert.NotEmpty(finals);
        Assert.All(finals, text => Assert.Matches(@"· arousal3 (low|neutral|high)$", text));
    }

    [SkippableFact]
    public async Task A_recording_dropped_on_the_page_gets_its_timeline_per_channel_with_the_API_key_asked_once()
    {
        var wav = CallSlice(0, 20, mono: false);
        await using var session = await BrowserSession.StartAsync(captureWav: null, apiKey: "s3cret");
        await session.Context.AddInitScriptAsync(RecordCanvasDraws);
        var page = await session.Context.NewPageAsync();
        await page.GotoAsync(session.Url("/"));
        // With keys configured the page asks once, in a labelled dialog, and keeps the key for the tab.
        var key = page.GetByLabel("Key", new() { Exact = true });
        await key.WaitForAsync(new() { Timeout = 20_000 });
        await key.FillAsync("s3cret");
        await key.PressAsync("Enter");
        await WaitAsync(page, "() => document.body.dataset.ready === 'true'", TimeSpan.FromSeconds(20));
        Assert.Equal(
            "s3cret",
            await page.EvaluateAsync<string>("() => sessionStorage.getItem('realtimeser.apiKey')")
        );

        // A real drop event carrying a File, as a user's drag from the desktop delivers it.
        await page.EvaluateAsync(
            """
            ([b64, name]) => {
              const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
              const dt = new DataTransfer();
              dt.items.add(new File([bytes], name, { type: "audio/wav" }));
              const drop = document.getElementById("drop");
              for (const type of ["dragenter", "dragover", "drop"]) {
                drop.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
              }
            }
            """,
            new object[] { Convert.ToBase64String(wav), "call-20s.wav" }
        );
        await WaitAsync(
            page,
            "() => !document.getElementById('file-result').hidden",
            TimeSpan.FromSeconds(60)
        );
        Assert.Equal("2", await page.Locator("#file-result").GetAttributeAsync("data-channels"));
        foreach (var channel in new[] { 0, 1 })
        {
            var segments = await page.Locator($"#file-summary p[data-channel='{channel}']")
                .GetAttributeAsync("data-segments");
            Assert.True(
                int.Parse(segments!, System.Globalization.CultureInfo.InvariantCulture) > 0,
                $"channel {channel}"
            );
        }
        var labels = await page.Locator("#file-finals li")
            .EvaluateAllAsync<string[]>("items => items.map(li => li.dataset.label)");
        Assert.NotEmpty(labels);
        Assert.All(labels, l => Assert.Contains(l, session.Labels));
        Assert.Contains(
            "final segments",
            await page.Locator("#file-status").InnerTextAsync(),
            StringComparison.Ordinal
        );
        Assert.StartsWith(
            "Timeline 0–20 s:",
            await page.Locator("#file-timeline").GetAttributeAsync("aria-label"),
            StringComparison.Ordinal
        );
        // The recording's timeline has its legend (no interim line: a recording shows finals only), a label
        // on every final, and both lanes outlined alike (the interim line's width once thickened the second).
        string[] kinds = ["speech", "final", .. session.Labels.Select(_ => "label")];
        Assert.Equal(
            kinds,
            await page.Locator("#file-legend .legend-item")
                .EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.kind)")
        );
        await WaitAsync(page, EveryFinalLabelled("file-timeline", "#file-finals"), TimeSpan.FromSeconds(5));
        var outlines = await page.EvaluateAsync<double[]>("() => window.__draws['file-timeline'].outlines");
        Assert.True(outlines.Length >= 2, $"{outlines.Length} outlines");
        Assert.All(outlines, width => Assert.Equal(1, width));
        await page.Locator("#file-h").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync(
            new() { Path = BrowserSession.ScreenshotPath("recording.png"), FullPage = true }
        );
    }

    [SkippableFact]
    public async Task A_final_too_narrow_for_its_initial_still_gets_its_label_on_the_timeline()
    {
        await using var session = await BrowserSession.StartAsync(captureWav: null);
        await session.Context.AddInitScriptAsync(RecordCanvasDraws);
        var page = await session.Context.NewPageAsync();
        await page.GotoAsync(session.Url("/"));
        // A minute's view 600 px wide: 0.2 s is under 2 px. Slivers cut short by shed audio, one right against the
        // next span and one against the lane's end, besides ordinary 1.5 s turns.
        var written = await page.EvaluateAsync<string[]>(
            """
            async () => {
              const { Timeline } = await import("/static/js/timeline.js");
              const canvas = document.createElement("canvas");
              canvas.id = "sliver-test";
              canvas.style.width = "600px";
              canvas.style.height = "80px";
              document.body.append(canvas);
              const t = new Timeline(canvas, { labels: ["angry", "sad", "neutral"], channels: 1, span: 60 });
              const finals = [[1, 2.5, "neutral"], [10, 10.2, "angry"], [10.2, 11.7, "sad"], [59.8, 60, "sad"]];
              for (const [start_s, end_s, label] of finals) t.addFinal({ channel: 0, start_s, end_s, label });
              t.draw(60);
              return window.__draws["sliver-test"].texts;
            }
            """
        );
        foreach (var label in new[] { "neutral", "angry", "sad", "sad" })
        {
            Assert.Contains(
                written,
                text => text.Length > 0 && label.StartsWith(text, StringComparison.Ordinal)
            );
        }
        Assert.Equal(
            4,
            written.Count(text =>
                new[] { "neutral", "angry", "sad" }.Any(l => l.StartsWith(text, StringComparison.Ordinal))
            )
        );
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection
{
    public const string Name = "Browser (serial)";
}
