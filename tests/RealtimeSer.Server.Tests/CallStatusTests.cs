using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace RealtimeSer.Server.Tests;

/// <summary>
/// The status a call ended with when the client's reset reaches the handler as an I/O error on the request body
/// before Kestrel has signalled the call's cancellation, as it does on a busy machine (a deadline test once
/// counted INTERNAL in CI that way).
/// </summary>
public sealed class CallStatusTests
{
    /// <summary>A call whose cancellation has not been signalled yet.</summary>
    private sealed class NotYetCancelledContext(DateTime deadline) : ServerCallContext
    {
        protected override string MethodCore => EmotionService.StreamingRecognizePath;
        protected override string HostCore => "localhost";
        protected override string PeerCore => "ipv4:127.0.0.1:1";
        protected override DateTime DeadlineCore => deadline;
        protected override Metadata RequestHeadersCore { get; } = new();
        protected override CancellationToken CancellationTokenCore => CancellationToken.None;
        protected override Metadata ResponseTrailersCore { get; } = new();
        protected override Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore { get; } = new(null, new());

        protected override ContextPropagationToken CreatePropagationTokenCore(
            ContextPropagationOptions? options
        ) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }

    private static IOException ClientReset() => new("The client reset the request stream.");

    [Fact]
    public void A_reset_at_the_deadline_is_DEADLINE_EXCEEDED_before_the_cancellation_is_signalled()
    {
        var context = new NotYetCancelledContext(DateTime.UtcNow);
        Assert.Equal(StatusCode.DeadlineExceeded, CallStatus.Of(ClientReset(), context));
    }

    [Fact]
    public void A_reset_with_no_deadline_near_is_CANCELLED_however_deep_the_IO_error_is_wrapped()
    {
        var context = new NotYetCancelledContext(DateTime.UtcNow.AddMinutes(5));
        var error = new InvalidOperationException("Stream aborted", new IOException("read", ClientReset()));
        Assert.Equal(StatusCode.Cancelled, CallStatus.Of(error, context));
        Assert.Equal(
            StatusCode.Cancelled,
            CallStatus.Of(ClientReset(), new NotYetCancelledContext(DateTime.MaxValue))
        );
    }

    [Fact]
    public void A_server_error_that_is_not_a_transport_failure_stays_INTERNAL_and_success_stays_OK()
    {
        var context = new NotYetCancelledContext(DateTime.UtcNow);
        Assert.Equal(StatusCode.Internal, CallStatus.Of(new InvalidOperationException("a bug"), context));
        Assert.Equal(StatusCode.OK, CallStatus.Of(null, context));
        Assert.Null(CallStatus.Aborted(context));
    }

    [Fact]
    public async Task The_error_interceptor_answers_a_reset_at_the_deadline_DEADLINE_EXCEEDED_not_INTERNAL()
    {
        var interceptor = new ErrorInterceptor(NullLoggerFactory.Instance);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            interceptor.DuplexStreamingServerHandler<string, string>(
                null!,
                null!,
                new NotYetCancelledContext(DateTime.UtcNow),
                (_, _, _) => throw ClientReset()
            )
        );

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.IsType<IOException>(error.Status.DebugException);
    }
}
