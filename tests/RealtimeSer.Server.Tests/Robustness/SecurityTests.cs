using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;
using RealtimeSer.Tests.Shared;
using Xunit.Abstractions;

namespace RealtimeSer.Server.Tests.Robustness;

[Collection(RobustnessCollection.Name)]
public sealed class SecurityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ser-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public async Task With_TLS_from_PEM_a_plaintext_client_is_refused_and_a_TLS_client_is_served()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var cert = request.CreateSelfSigned(
            DateTimeOffset.UtcNow.AddMinutes(-5),
            DateTimeOffset.UtcNow.AddDays(1)
        );
        var certPath = Path.Combine(_dir, "cert.pem");
        var keyPath = Path.Combine(_dir, "key.pem");
        await File.WriteAllTextAsync(certPath, cert.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());
        var thumbprint = cert.GetCertHashString(HashAlgorithmName.SHA256);

        var tls = new SocketsHttpHandler
        {
            SslOptions =
            {
                // Trust exactly the test certificate.
                RemoteCertificateValidationCallback = (_, c, _, _) =>
                    c is not null && c.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint,
            },
        };
        await using var server = await TestServer.StartAsync(
            o =>
            {
                o.TlsCertificate = certPath;
                o.TlsKey = keyPath;
            },
            handler: tls
        );
        Assert.Equal("https", server.Server.Address.Scheme);
        Assert.Equal(
            global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
            await server.CheckAsync()
        );

        using var plaintext = new TestClient(new Uri($"http://127.0.0.1:{server.Server.Port}"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            plaintext.UnaryAsync(
                HealthService.CheckPath,
                new global::Grpc.Health.V1.HealthCheckRequest(),
                global::Grpc.Health.V1.HealthCheckResponse.Parser,
                cancellationToken: cancel.Token
            )
        );
        output.WriteLine($"plaintext h2c client against the TLS port: {refused.Status}");
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);

        // The TLS port speaks HTTP/2 only: a TLS client that offers only HTTP/1.1 is refused at the handshake.
        using var http1 = new HttpClient(
            new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            }
        )
        {
            DefaultRequestVersion = System.Net.HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var http1Refused = await Assert.ThrowsAsync<HttpRequestException>(() =>
            http1.GetAsync(new Uri($"https://127.0.0.1:{server.Server.Port}/"), cancel.Token)
        );
        output.WriteLine($"HTTP/1.1 TLS client against the TLS port: {http1Refused.Message}");
    }

    [SkippableFact]
    public async Task Each_API_key_has_its_own_concurrent_stream_limit()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash("key-one"), ApiKeyAuthenticator.Hash("key-two")];
            o.MaxStreamsPerKey = 2;
        });
        using var one = new TestClient(server.Server.Address);
        one.Headers["authorization"] = "Bearer key-one";
        using var two = new TestClient(server.Server.Address);
        two.Headers["authorization"] = "Bearer key-two";
        var open = new List<StreamingCall<IMessage, StreamingRecognizeResponse>>();
        for (var i = 0; i < 2; i++)
        {
            var call = one.StartDuplex(
                EmotionService.StreamingRecognizePath,
                StreamingRecognizeResponse.Parser
            );
            await call.WriteAsync(new StreamingRecognizeRequest { Config = Streams.MulawStereo() });
            open.Add(call);
        }
        await Wait.UntilAsync(
            () => server.Server.LiveStreams == 2,
            TimeSpan.FromSeconds(10),
            () => "streams not open"
        );
        var third = await Streams.RunAsync(one, Streams.MulawStereo(), new byte[1600], paced: false);
        var other = await Streams.RunAsync(two, Streams.MulawStereo(), new byte[1600], paced: false);
        output.WriteLine(
            $"third stream on key one: {third.Status}; key two meanwhile: {other.Status.StatusCode}"
        );
        Assert.Equal(StatusCode.ResourceExhausted, third.Status.StatusCode);
        Assert.Contains("API key", third.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.OK, other.Status.StatusCode);

        await open[0].DisposeAsync();
        await Wait.UntilAsync(
            () => server.Server.LiveStreams == 1,
            TimeSpan.FromSeconds(10),
            () => "slot not freed"
        );
        var again = await Streams.RunAsync(one, Streams.MulawStereo(), new byte[1600], paced: false);
        Assert.Equal(StatusCode.OK, again.Status.StatusCode);
        await open[1].DisposeAsync();
        await server.WaitForNoStreamsAsync();
    }

    [SkippableFact]
    public async Task Each_API_key_has_a_token_bucket_rate_limit()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ApiKeyHashes = [ApiKeyAuthenticator.Hash("key-one"), ApiKeyAuthenticator.Hash("key-two")];
            o.RequestsPerSecondPerKey = 4;
            o.RequestBurstPerKey = 5;
        });
        using var one = new TestClient(server.Server.Address);
        one.Headers["authorization"] = "Bearer key-one";
        using var two = new TestClient(server.Server.Address);
        two.Headers["authorization"] = "Bearer key-two";
        Task<ListModelsResponse> List(TestClient c) =>
            c.UnaryAsync(EmotionService.ListModelsPath, new ListModelsRequest(), ListModelsResponse.Parser);
        var ok = 0;
        RpcException? limited = null;
        for (var i = 0; i < 10 && limited is null; i++)
        {
            try
            {
                await List(one);
                ok++;
            }
            catch (RpcException e)
            {
                limited = e;
            }
        }
        output.WriteLine($"key one: {ok} calls, then {limited?.Status}");
        Assert.NotNull(limited);
        Assert.Equal(StatusCode.ResourceExhausted, limited.StatusCode);
        Assert.Contains("Rate limit", limited.Status.Detail, StringComparison.Ordinal);
        Assert.InRange(ok, 5, 6);
        // Streams count against the same bucket; the other key is untouched.
        var stream = await Streams.RunAsync(one, Streams.MulawStereo(), new byte[1600], paced: false);
        Assert.Equal(StatusCode.ResourceExhausted, stream.Status.StatusCode);
        Assert.Single((await List(two)).Models);
        // The bucket refills at 4 per second: the refusal says when to retry (at most 250 ms), and a call at
        // that time is served. A refused call takes no token, so retrying as told never starves itself.
        var retryMs = long.Parse(
            limited.Trailers.GetValue(KeyLimits.RetryAfterTrailer)!,
            System.Globalization.CultureInfo.InvariantCulture
        );
        Assert.InRange(retryMs, 1, 250);
        ListModelsResponse? served = null;
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    served = await List(one);
                    return true;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(5),
            () => "key one is still refused"
        );
        Assert.Single(served!.Models);
    }

    [SkippableFact]
    public async Task Logs_at_Information_never_contain_the_API_key_or_audio()
    {
        const string secret = "sk-live-7f3a9c1e5b2d4068";
        var logs = new LogCapture();
        var audio = TestPaths.WavData(TestPaths.RequireCallFixture());
        await using var server = await TestServer.StartAsync(
            o => o.ApiKeyHashes = [ApiKeyAuthenticator.Hash(secret)],
            logging: b =>
            {
                b.AddProvider(logs);
                b.SetMinimumLevel(LogLevel.Information);
            }
        );
        server.Client.Headers["authorization"] = "Bearer " + secret;
        var clip = Streams.Slice(audio, 1, 4);
        var outcome = await Streams.RunAsync(server.Client, Streams.MulawStereo(), clip, paced: false);
        Assert.Equal(StatusCode.OK, outcome.Status.StatusCode);
        // A refused key and a malformed stream are logged too: they must not echo what the client sent.
        using var wrong = new TestClient(server.Server.Address);
        wrong.Headers["authorization"] = "Bearer sk-wrong-0123456789abcdef";
        await Streams.RunAsync(wrong, Streams.MulawStereo(), clip, paced: false);
        await using (
            var call = server.Client.StartDuplex(
                EmotionService.StreamingRecognizePath,
                StreamingRecognizeResponse.Parser
            )
        )
        {
            await call.WriteAsync(
                new StreamingRecognizeRequest { AudioContent = ByteString.CopyFrom(clip, 0, 64) }
            );
            await Assert.ThrowsAsync<RpcException>(async () => await call.ReadAsync());
        }
        await server.WaitForNoStreamsAsync();

        var text = logs.Text;
        output.WriteLine(
            $"{logs.Entries.Count} log entries at Information and above, {text.Length} characters:"
        );
        output.WriteLine(text);
        Assert.True(logs.Entries.Count >= 3, "expected stream and refusal entries");
        Assert.Contains("Stream grpc-", text, StringComparison.Ordinal);
        foreach (
            var forbidden in new[]
            {
                secret,
                "sk-wrong-0123456789abcdef",
                ApiKeyAuthenticator.Hash(secret)["sha256:".Length..],
                "Bearer",
            }
        )
        {
            Assert.DoesNotContain(forbidden, text, StringComparison.OrdinalIgnoreCase);
        }
        // Audio in any printable form: base64, hex, or the bytes as text, of any 12-byte stretch sampled.
        for (var offset = 0; offset + 12 <= clip.Length; offset += 997)
        {
            var bytes = clip.AsSpan(offset, 12);
            Assert.DoesNotContain(Convert.ToBase64String(bytes), text, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToHexString(bytes), text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(Encoding.Latin1.GetString(bytes), text, StringComparison.Ordinal);
        }
    }
}
