using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Grpc.Core;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Grpc.Tests;

/// <summary>
/// A server that is not there reads as one: "cannot connect to HOST:PORT (connection refused)", an address
/// without its scheme is refused with the one meant, and <c>--reconnect</c> says "retrying" until a call
/// reaches a server, and "reconnected" only then.
/// </summary>
public sealed class ConnectionErrorTests
{
    [Fact]
    public async Task A_stream_to_a_port_where_nothing_listens_ends_UNAVAILABLE_connection_refused()
    {
        // Nothing listens on loopback port 1. Grpc.Net.Client alone reports this call as cancelled.
        using var channel = new SerChannel(new Uri("http://127.0.0.1:1"));
        await using var call = await channel.Recognizer.StartStreamAsync(new RecognitionConfig());

        var e = await Assert.ThrowsAsync<RpcException>(async () => await call.ReadAsync());

        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.True(call.HasEnded);
        Assert.Equal("connection refused", SerChannel.ConnectionFailure(e.Status));
        Assert.Equal("cannot connect to 127.0.0.1:1 (connection refused)", channel.Explain(e));
    }

    [Fact]
    public void A_status_a_server_sent_is_explained_as_its_answer()
    {
        using var channel = new SerChannel(new Uri("http://127.0.0.1:1"));
        var status = new Status(StatusCode.Unavailable, "The server is shutting down.");
        Assert.Null(SerChannel.ConnectionFailure(status));
        Assert.Equal(
            "the server answered Unavailable: The server is shutting down.",
            channel.Explain(status)
        );
    }

    [Theory]
    [InlineData(
        "localhost:50051",
        "give the scheme: http://localhost:50051 (cleartext HTTP/2) or https://localhost:50051 (TLS)"
    )]
    [InlineData(
        "127.0.0.1:50051",
        "give the scheme: http://127.0.0.1:50051 (cleartext HTTP/2) or https://127.0.0.1:50051 (TLS)"
    )]
    [InlineData(
        "ftp://host:21",
        "only http:// (cleartext HTTP/2) and https:// (TLS) addresses are served: use http://HOST:PORT or https://HOST:PORT"
    )]
    [InlineData("http://localhost:50051", null)]
    [InlineData("https://ser.example:443/", null)]
    public void Addresses_need_an_http_or_https_scheme(string address, string? problem) =>
        Assert.Equal(problem, SerChannel.AddressProblem(address));

    [Fact]
    public void A_channel_to_an_address_without_its_scheme_is_refused_in_words_not_by_a_resolver()
    {
        var e = Assert.Throws<ArgumentException>(() => new SerChannel(new Uri("localhost:50051")));
        Assert.StartsWith(
            "localhost:50051: give the scheme: http://localhost:50051",
            e.Message,
            StringComparison.Ordinal
        );
    }

    [Fact]
    public async Task Reconnecting_says_retrying_while_nothing_answers_and_reconnected_once_a_call_gets_through()
    {
        var handler = new RefusingHandler(refusals: 2);
        using var channel = new SerChannel(new Uri("http://127.0.0.1:1"), null, handler);
        var retrying = new List<ReconnectEvent>();
        var reconnected = new List<ReconnectEvent>();
        await using var stream = await ReconnectingStream.StartAsync(
            channel.Recognizer,
            new RecognitionConfig
            {
                Encoding = AudioEncoding.Linear16,
                SampleRateHertz = 16000,
                AudioChannelCount = 1,
            },
            new ReconnectPolicy { MaxAttempts = 5, InitialBackoff = TimeSpan.FromMilliseconds(5) },
            reconnected.Add,
            retrying: retrying.Add
        );
        var reading = Task.Run(async () =>
        {
            while (await stream.ReadAsync() is not null) { }
        });

        Assert.True(await stream.WriteAsync(new byte[320]));
        await stream.CompleteAsync();
        await reading.WaitAsync(TimeSpan.FromSeconds(30));

        // The first call and the first new one were refused; the second new one got through.
        Assert.Equal([1, 2], retrying.Select(r => r.Attempt));
        Assert.All(retrying, r => Assert.Equal("connection refused", SerChannel.ConnectionFailure(r.Cause)));
        Assert.All(retrying, r => Assert.True(r.IsFirstConnection));
        Assert.All(retrying, r => Assert.Equal(5, r.MaxAttempts));
        var through = Assert.Single(reconnected);
        Assert.Equal(2, through.Attempt);
        Assert.True(through.IsFirstConnection);
        Assert.Equal(1, stream.Reconnects);
        Assert.Equal(3, handler.Calls);
    }

    [Fact]
    public async Task Giving_up_keeps_the_reason_a_connection_could_not_be_made()
    {
        using var channel = new SerChannel(
            new Uri("http://127.0.0.1:1"),
            null,
            new RefusingHandler(refusals: 100)
        );
        var retrying = new List<ReconnectEvent>();
        await using var stream = await ReconnectingStream.StartAsync(
            channel.Recognizer,
            new RecognitionConfig(),
            new ReconnectPolicy { MaxAttempts = 2, InitialBackoff = TimeSpan.FromMilliseconds(5) },
            _ => Assert.Fail("no call reached a server"),
            retrying: retrying.Add
        );

        var e = await Assert.ThrowsAsync<RpcException>(async () => await stream.ReadAsync());

        Assert.Equal(2, retrying.Count);
        Assert.Equal("connection refused", SerChannel.ConnectionFailure(e.Status));
        Assert.EndsWith("(gave up after 2 reconnection attempts)", e.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, stream.Reconnects);
    }

    /// <summary>
    /// Refuses the first calls as a closed port does; then answers a stream that ends OK once the client has
    /// sent all its requests.
    /// </summary>
    private sealed class RefusingHandler(int refusals) : HttpMessageHandler
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        protected override Task<HttpResponseMessage> SendAsync(
            HttpRequestMessage request,
            CancellationToken cancellationToken
        )
        {
            if (Interlocked.Increment(ref _calls) <= refusals)
            {
                throw new HttpRequestException(
                    "Connection refused (127.0.0.1:1)",
                    new SocketException((int)SocketError.ConnectionRefused)
                );
            }
            var requestDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = Task.Run(
                async () =>
                {
                    try
                    {
                        await request.Content!.CopyToAsync(Stream.Null, cancellationToken);
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException) { }
                    requestDone.TrySetResult();
                },
                CancellationToken.None
            );
            var response = new HttpResponseMessage(HttpStatusCode.OK)
            {
                Version = HttpVersion.Version20,
                RequestMessage = request,
                Content = new StreamContent(new EndsWhen(requestDone.Task)),
            };
            response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            response.TrailingHeaders.Add(
                "grpc-status",
                ((int)StatusCode.OK).ToString(CultureInfo.InvariantCulture)
            );
            return Task.FromResult(response);
        }
    }

    /// <summary>An empty body that ends when <paramref name="end"/> does.</summary>
    private sealed class EndsWhen(Task end) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush() { }

        public override int Read(byte[] buffer, int offset, int count)
        {
            end.Wait();
            return 0;
        }

        public override async ValueTask<int> ReadAsync(
            Memory<byte> buffer,
            CancellationToken cancellationToken = default
        )
        {
            await end.WaitAsync(cancellationToken);
            return 0;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
