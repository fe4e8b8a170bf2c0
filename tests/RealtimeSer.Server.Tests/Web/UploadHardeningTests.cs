using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RealtimeSer.Audio;
using static RealtimeSer.Server.Tests.Web.WebTestSupport;

namespace RealtimeSer.Server.Tests.Web;

/// <summary>
/// Uploads are someone else's files: only plain audio containers are decoded, nothing they name is opened,
/// and no answer tells the client about the server's files or folders.
/// </summary>
public sealed class UploadHardeningTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ser-upload-test-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>
    /// Files named by a playlist are planted as FIFOs beside and inside the upload folder. Opening a FIFO for
    /// writing completes only when someone opens it for reading, so a writer still waiting after the answer
    /// proves that nothing opened the file: not the server, not ffmpeg.
    /// </summary>
    [SkippableFact]
    public async Task A_playlist_upload_is_refused_without_opening_the_files_it_names()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs as tripwires need Linux");
        var uploads = Path.Combine(_root, "uploads");
        var beside = MakeFifo(Path.Combine(_root, "probe", "secret.wav"));
        var inside = MakeFifo(Path.Combine(uploads, "probe", "secret.wav"));
        var tripwires = new[] { Tripwire(beside), Tripwire(inside) };

        await using var server = await TestServer.StartAsync(o => o.UploadFolder = uploads);
        using var http = Http(server.Server);
        var playlists = new Dictionary<string, string>
        {
            ["ffconcat"] = "ffconcat version 1.0\nfile 'probe/secret.wav'\nfile '../probe/secret.wav'\n",
            ["concat, absolute"] = $"ffconcat version 1.0\nfile '{beside}'\n",
            ["HLS"] =
                "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nprobe/secret.wav\n#EXTINF:10,\n../probe/secret.wav\n",
            ["SDP"] =
                "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 0\n",
            ["file list"] = "probe/secret.wav\n",
        };
        foreach (var (kind, text) in playlists)
        {
            using var response = await http.PostAsync(
                FileAnalysisEndpoint.Path + "?name=list.txt",
                new ByteArrayContent(Encoding.UTF8.GetBytes(text))
            );
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(
                response.StatusCode == HttpStatusCode.BadRequest,
                $"{kind}: {response.StatusCode} {body}"
            );
            Assert.Contains("format the server accepts", body, StringComparison.Ordinal);
            AssertNothingAboutTheServer(body);
        }

        // Nothing opened either file; then the test opens them itself, so the writers finish.
        Assert.All(tripwires, t => Assert.False(t.IsCompleted, "a planted file was opened"));
        foreach (var fifo in new[] { beside, inside })
        {
            using var reader = new FileStream(fifo, FileMode.Open, FileAccess.Read);
            await reader.CopyToAsync(Stream.Null);
        }
        await Task.WhenAll(tripwires).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(Directory.EnumerateFiles(uploads));
    }

    [SkippableFact]
    public async Task Audio_containers_decode_and_errors_name_the_upload_not_the_servers_files()
    {
        Skip.If(FfmpegMissing(), "ffmpeg is not on PATH");
        var uploads = Path.Combine(_root, "uploads");
        var wav = CallSlice(0, 8, mono: false);
        var flac = await ConvertAsync(wav, "flac");
        var opus = await ConvertAsync(wav, "ogg", "-c:a", "libopus");
        await using var server = await TestServer.StartAsync(o => o.UploadFolder = uploads);
        using var http = Http(server.Server);
        foreach (var (name, bytes) in new[] { ("call.flac", flac), ("call.ogg", opus) })
        {
            using var response = await http.PostAsync(
                FileAnalysisEndpoint.Path + "?name=" + name,
                new ByteArrayContent(bytes)
            );
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var result = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(2, result.GetProperty("channels").GetInt32());
            Assert.Equal(8, result.GetProperty("duration_s").GetDouble(), 0);
        }

        // A FLAC header with garbage behind it reaches ffmpeg, whose complaint must not show where the upload sat.
        var broken = flac[..64].Concat(new byte[4096]).ToArray();
        using var bad = await http.PostAsync(
            FileAnalysisEndpoint.Path + "?name=../../etc/broken.flac",
            new ByteArrayContent(broken)
        );
        var text = await bad.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("broken.flac", text, StringComparison.Ordinal);
        Assert.DoesNotContain("etc", text, StringComparison.Ordinal);
        AssertNothingAboutTheServer(text);
        Assert.DoesNotContain(uploads, text, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(uploads));
    }

    [Fact]
    public void Sniffing_accepts_audio_containers_and_nothing_else()
    {
        static string? Sniff(params byte[] head) => UntrustedAudio.Sniff(head);
        static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);
        Assert.Equal("wav", Sniff(Ascii("RIFF\0\0\0\0WAVEfmt ")));
        Assert.Equal("wav", Sniff(Ascii("RF64\0\0\0\0WAVEds64")));
        Assert.Equal("flac", Sniff(Ascii("fLaC\0\0\0\"")));
        Assert.Equal("ogg", Sniff(Ascii("OggS\0\u0002\0\0")));
        Assert.Equal("matroska", Sniff(0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42));
        Assert.Equal("mov", Sniff(Ascii("\0\0\0\u0020ftypM4A ")));
        Assert.Equal("mp3", Sniff(Ascii("ID3\u0004\0\0\0\0")));
        Assert.Equal("mp3", Sniff(0xFF, 0xFB, 0x90, 0x64));
        Assert.Equal("aac", Sniff(0xFF, 0xF1, 0x50, 0x80));
        Assert.Equal("aiff", Sniff(Ascii("FORM\0\0\0\0AIFFCOMM")));
        Assert.Null(Sniff(Ascii("RIFF\0\0\0\0AVI LIST")));
        Assert.Null(Sniff(Ascii("ffconcat version 1.0\n")));
        Assert.Null(Sniff(Ascii("#EXTM3U\n#EXTINF:1,\n")));
        Assert.Null(Sniff(Ascii("v=0\no=- 0 0 IN IP4")));
        Assert.Null(Sniff(Ascii("[playlist]\nFile1=")));
        Assert.Null(Sniff());
    }

    private static void AssertNothingAboutTheServer(string body)
    {
        Assert.DoesNotContain(Path.GetTempPath().TrimEnd('/'), body, StringComparison.Ordinal);
        Assert.DoesNotContain("ser-upload", body, StringComparison.Ordinal);
        Assert.DoesNotContain(
            Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            body,
            StringComparison.Ordinal
        );
    }

    private static string MakeFifo(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    /// <summary>Completes once a reader opens <paramref name="fifo"/>, and hands it a valid WAV.</summary>
    private static Task Tripwire(string fifo) =>
        Task.Factory.StartNew(
            () =>
            {
                using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                writer.Write(Wav(new byte[32000], 16000, 1));
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default
        );

    private static bool FfmpegMissing() =>
        !(Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':')
            .Any(d => File.Exists(Path.Combine(d, "ffmpeg")));

    private async Task<byte[]> ConvertAsync(byte[] wav, string format, params string[] codec)
    {
        var input = Path.Combine(_root, "in.wav");
        var output = Path.Combine(_root, "out." + format);
        await File.WriteAllBytesAsync(input, wav);
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-y", "-i", input }.Concat(codec).Concat([output]))
        {
            start.ArgumentList.Add(a);
        }
        using var ffmpeg = Process.Start(start)!;
        var errors = await ffmpeg.StandardError.ReadToEndAsync();
        await ffmpeg.WaitForExitAsync();
        Assert.True(ffmpeg.ExitCode == 0, errors);
        return await File.ReadAllBytesAsync(output);
    }
}
