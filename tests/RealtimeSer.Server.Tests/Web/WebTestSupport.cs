using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using NAudio.Wave;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>WAV slices of the fixture call, and a small WebSocket client speaking the browser protocol.</summary>
internal static class WebTestSupport
{
    public const string StereoCall = "fixtures/calls/call01_stereo16k.wav";

    /// <summary>
    /// <paramref name="seconds"/> of the 16 kHz stereo fixture from <paramref name="start"/> as a PCM16 WAV file,
    /// stereo or downmixed to mono (Chromium's fake microphone plays a file as one device).
    /// </summary>
    public static byte[] CallSlice(double start, double seconds, bool mono)
    {
        var data = TestPaths.WavData(TestPaths.RequireShared(StereoCall));
        const int rate = 16000;
        var first = (int)(start * rate) * 4;
        var frames = Math.Min((int)(seconds * rate), (data.Length - first) / 4);
        var channels = mono ? 1 : 2;
        var pcm = new byte[frames * 2 * channels];
        for (var i = 0; i < frames; i++)
        {
            var left = BitConverter.ToInt16(data, first + (4 * i));
            var right = BitConverter.ToInt16(data, first + (4 * i) + 2);
            if (mono)
            {
                BitConverter.TryWriteBytes(pcm.AsSpan(2 * i), (short)((left + right) / 2));
            }
            else
            {
                BitConverter.TryWriteBytes(pcm.AsSpan(4 * i), left);
                BitConverter.TryWriteBytes(pcm.AsSpan((4 * i) + 2), right);
            }
        }
        return Wav(pcm, rate, channels);
    }

    public static byte[] Wav(byte[] pcm, int rate, int channels)
    {
        using var stream = new MemoryStream();
        using (var writer = new WaveFileWriter(stream, new WaveFormat(rate, 16, channels)))
        {
            writer.Write(pcm);
        }

        return stream.ToArray();
    }

    public static Uri WebSocketUri(SerServer server) =>
        new($"ws://127.0.0.1:{server.Port}{BrowserStreamEndpoint.Path}");

    public static HttpClient Http(SerServer server, string? key = null)
    {
        var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return http;
    }

    public static async Task<ClientWebSocket> ConnectAsync(SerServer server, string? origin = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", origin ?? $"http://127.0.0.1:{server.Port}");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(WebSocketUri(server), cancel.Token);
        return socket;
    }

    public static Task SendTextAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(
            Encoding.UTF8.GetBytes(text),
            WebSocketMessageType.Text,
            true,
            CancellationToken.None
        );

    public static string Config(string config, string? key = null) =>
        key is null ? $"{{\"config\":{config}}}" : $"{{\"config\":{config},\"api_key\":\"{key}\"}}";

    /// <summary>The next text message as JSON, or null once the server closed.</summary>
    public static async Task<JsonElement?> ReceiveAsync(ClientWebSocket socket, TimeSpan? within = null)
    {
        using var cancel = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(30));
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancel.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
            }
        }
    }

    /// <summary>Every message until the server closes.</summary>
    public static async Task<List<JsonElement>> ReceiveAllAsync(ClientWebSocket socket, TimeSpan within)
    {
        var all = new List<JsonElement>();
        var deadline = DateTime.UtcNow + within;
        while (await ReceiveAsync(socket, deadline - DateTime.UtcNow) is { } e)
        {
            all.Add(e);
        }
        return all;
    }

    /// <summary>
    /// A self-signed certificate for 127.0.0.1 written to <c>cert.pem</c> and <c>key.pem</c> in
    /// <paramref name="dir"/>; returns the check that trusts exactly it.
    /// </summary>
    public static async Task<Func<X509Certificate?, bool>> SelfSignedAsync(string dir)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var cert = request.CreateSelfSigned(
            DateTimeOffset.UtcNow.AddMinutes(-5),
            DateTimeOffset.UtcNow.AddDays(1)
        );
        await File.WriteAllTextAsync(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        var thumbprint = cert.GetCertHashString(HashAlgorithmName.SHA256);
        return c => c is not null && c.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint;
    }

    public static string? Event(JsonElement e) => e.TryGetProperty("event", out var v) ? v.GetString() : null;
}
