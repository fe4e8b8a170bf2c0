using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using RealtimeSer.Core.Output;

namespace RealtimeSer.Server;

/// <summary>
/// Everything a browser uses, mapped onto the server's port: the pages, the live audio WebSocket, file
/// analysis, the dashboard feed and the models list. Kept apart from the gRPC service so that moving the
/// service to another host leaves this as it is.
/// </summary>
internal static class WebEndpoints
{
    public const string InfoPath = "/v1/info";
    public const string ModelsPath = "/v1/models";

    public static void MapWeb(this WebApplication app, SessionServices sessions)
    {
        var (models, options, lifetime, admission, registry, delivery, logger) = sessions;
        var browser = new BrowserStreamEndpoint(sessions);
        var files = new FileAnalysisEndpoint(models, options, admission, logger);
        app.Lifetime.ApplicationStopped.Register(files.RemovePrivateFolder);
        var dashboard = new DashboardEndpoint(registry, lifetime, admission, delivery.Timeout);
        app.UseWebSockets();
        // GET and HEAD alike, so that `curl -I` shows the same headers (the CSP among them) as a browser gets.
        string[] read = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/", read, (HttpContext c) => StaticAssets.ServeAsync(c, "index.html"));
        app.MapMethods("/dashboard", read, (HttpContext c) => StaticAssets.ServeAsync(c, "dashboard.html"));
        app.MapMethods(
            "/static/{**name}",
            read,
            (HttpContext c, string? name) => StaticAssets.ServeAsync(c, name ?? "")
        );
        // Browsers ask for it on every page load: no icon, and no 404 in the console.
        app.MapMethods(
            "/favicon.ico",
            read,
            (HttpContext c) => c.Response.StatusCode = StatusCodes.Status204NoContent
        );
        app.MapGet(InfoPath, (HttpContext c) => InfoAsync(c, options, admission));
        app.MapGet(ModelsPath, (HttpContext c) => ModelsAsync(c, models, admission));
        app.Map(BrowserStreamEndpoint.Path, browser.HandleAsync);
        app.MapPost(FileAnalysisEndpoint.Path, files.HandleAsync);
        app.MapGet(DashboardEndpoint.SnapshotPath, dashboard.SnapshotAsync);
        app.MapGet(DashboardEndpoint.LivePath, dashboard.LiveAsync);
        // Anything else a browser asks for (not native gRPC, which answers UNIMPLEMENTED itself): a 404 that
        // does not repeat what was asked.
        app.MapFallback(NotFoundAsync);
    }

    private static Task NotFoundAsync(HttpContext context) =>
        AccessPolicy.IsNativeGrpc(context.Request)
            ? Task.CompletedTask
            : WebErrors.WriteHttpAsync(
                context,
                new Status(
                    StatusCode.NotFound,
                    "Nothing here: the pages are / and /dashboard, the API is under /v1/."
                )
            );

    /// <summary>What a page needs before it can ask for a key: whether one is needed at all.</summary>
    private static async Task InfoAsync(HttpContext context, ServerOptions options, StreamAdmission admission)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteBoolean("auth_required", admission.KeysRequired);
        json.WriteBoolean("tls", !string.IsNullOrEmpty(options.TlsCertificate));
        json.WriteNumber("max_stream_seconds", options.MaxStreamSeconds);
        json.WriteNumber("max_upload_bytes", options.MaxUploadBytes);
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    /// <summary>ListModels for pages, with the same key check.</summary>
    private static async Task ModelsAsync(
        HttpContext context,
        ModelRegistry models,
        StreamAdmission admission
    )
    {
        try
        {
            _ = admission.AuthenticateCall(AccessPolicy.Authorization(context.Request));
        }
        catch (RpcException e)
        {
            await WebErrors.WriteHttpAsync(context, e.Status);
            return;
        }
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteStartArray("models");
        foreach (var classifier in models.Classifiers)
        {
            var m = classifier.Manifest;
            ManifestJson.Write(json, m, models.Default.ModelIds.Contains(m.Id));
        }
        json.WriteEndArray();
        json.WriteStartArray("default_models");
        foreach (var id in models.Default.ModelIds)
        {
            json.WriteStringValue(id);
        }
        json.WriteEndArray();
        json.WriteStartArray("installed_not_loaded");
        foreach (var id in models.InstalledNotLoaded())
        {
            json.WriteStringValue(id);
        }
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }
}
