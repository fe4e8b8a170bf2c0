using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Grpc.Tests;

/// <summary>The client's connection: the key on every call, the library's retry policy, the reconnect policy.</summary>
public sealed class SerChannelTests
{
    [Fact]
    public async Task Unary_calls_carry_the_key_and_are_retried_on_UNAVAILABLE_by_the_library()
    {
        var handler = new StatusHandler(StatusCode.Unavailable);
        using var channel = new SerChannel(new Uri("http://127.0.0.1:1"), "k3y", handler);
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await channel.Recognizer.ListModelsAsync(new ListModelsRequest())
        );
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Equal(4, handler.Keys.Count);
        Assert.All(handler.Keys, k => Assert.Equal("Bearer k3y", k));
    }

    [Fact]
    public async Task Other_statuses_and_streams_are_not_retried()
    {
        var handler = new StatusHandler(StatusCode.Unauthenticated);
        using var channel = new SerChannel(new Uri("http://127.0.0.1:1"), null, handler);
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await channel.Recognizer.RecognizeAsync(new RecognizeRequest())
        );
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        Assert.Equal([null], handler.Keys);

        var unavailable = new StatusHandler(StatusCode.Unavailable);
        using var streaming = new SerChannel(new Uri("http://127.0.0.1:1"), null, unavailable);
        await using var call = await streaming.Recognizer.StartStreamAsync(new RecognitionConfig());
        var ended = await Assert.ThrowsAsync<RpcException>(async () => await call.ReadAsync());
        Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
        Assert.Single(unavailable.Keys);
    }

    [Fact]
    public void Reconnect_delays_grow_by_the_multiplier_up_to_the_cap_within_the_jitter()
    {
        var policy = new ReconnectPolicy();
        var random = new Random(1);
        for (var attempt = 1; attempt <= 8; attempt++)
        {
            var nominal = Math.Min(
                policy.MaxBackoff.TotalMilliseconds,
                policy.InitialBackoff.TotalMilliseconds * Math.Pow(policy.Multiplier, attempt - 1)
            );
            Assert.InRange(
                policy.Delay(attempt, random).TotalMilliseconds,
                nominal * (1 - policy.Jitter),
                nominal * (1 + policy.Jitter)
            );
        }
    }

    [Theory]
    [InlineData(AudioEncoding.Linear16, 2, 16000, 64000)]
    [InlineData(AudioEncoding.Float32, 1, 16000, 64000)]
    [InlineData(AudioEncoding.Mulaw, 2, 8000, 16000)]
    public void Bytes_per_second_follow_the_encoding(
        AudioEncoding encoding,
        int channels,
        int rate,
        double expected
    ) =>
        Assert.Equal(
            expected,
            ReconnectingStream.BytesPerSecond(
                new RecognitionConfig
                {
                    Encoding = encoding,
                    AudioChannelCount = channels,
                    SampleRateHertz = rate,
                }
            )
        );

    [Fact]
    public async Task A_write_into_a_stream_the_server_or_a_proxy_reset_reports_the_end_instead_of_throwing()
    {
        // Grpc.Net.Client lets the transport's own exception out of a write (HttpProtocolException, an
        // IOException); behind nginx that is how a reset stream showed up at the writing side.
        using var channel = new SerChannel(new Uri("http://127.0.0.1:1"), null, new ResetHandler());
        await using var call = await channel.Recognizer.StartStreamAsync(new RecognitionConfig());
        Assert.False(
            await call.WriteAsync(
                new StreamingRecognizeRequest
                {
                    AudioContent = Google.Protobuf.ByteString.CopyFrom(new byte[160]),
                }
            )
        );
        await call.CompleteRequestAsync();
        await Assert.ThrowsAsync<RpcException>(async () => await call.ReadAsync());
    }

    /// <summary>Answers every call with a trailers-only response of one status and notes the key sent.</summary>
    private sealed class StatusHandler(StatusCode code) : HttpMessageHandler
    {
        public List<string?> Keys { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(
            HttpRequestMessage request,
            CancellationToken cancellationToken
        )
        {
            lock (Keys)
            {
                Keys.Add(request.Headers.Authorization?.ToString());
            }
            var response = new HttpResponseMessage(HttpStatusCode.OK)
            {
                Version = HttpVersion.Version20,
                RequestMessage = request,
                Content = new ByteArrayContent([]),
            };
            response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            response.Headers.Add("grpc-status", ((int)code).ToString(CultureInfo.InvariantCulture));
            response.Headers.Add("grpc-message", "from the test handler");
            return Task.FromResult(response);
        }
    }

    /// <summary>Starts a response, then fails every request write and the response body as an HTTP/2 reset does.</summary>
    private sealed class ResetHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(
            HttpRequestMessage request,
            CancellationToken cancellationToken
        )
        {
            _ = Task.Run(
                async () =>
                {
                    try
                    {
                        await request.Content!.CopyToAsync(new ResetStream(), cancellationToken);
                    }
                    catch (IOException) { }
                },
                CancellationToken.None
            );
            var response = new HttpResponseMessage(HttpStatusCode.OK)
            {
                Version = HttpVersion.Version20,
                RequestMessage = request,
                Content = new StreamContent(new ResetStream()),
            };
            response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            return Task.FromResult(response);
        }
    }

    private sealed class ResetStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush() { }

        public override int Read(byte[] buffer, int offset, int count) => throw Reset();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw Reset();

        private static HttpProtocolException Reset() =>
            new(2, "The HTTP/2 server reset the stream. HTTP/2 error code 'INTERNAL_ERROR' (0x2).", null);
    }
}
