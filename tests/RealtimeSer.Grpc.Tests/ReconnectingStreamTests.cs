using Grpc.Core;

namespace RealtimeSer.Grpc.Tests;

public sealed class ReconnectingStreamTests
{
    [Fact]
    public void A_connection_closed_under_the_stream_counts_as_lost_like_UNAVAILABLE()
    {
        var closed = new RpcException(
            new Status(
                StatusCode.Internal,
                "Error reading next message. HttpProtocolException: The HTTP/2 server closed the connection.",
                new System.Net.Http.HttpProtocolException(0, "closed", null)
            )
        );
        Assert.True(ReconnectingStream.IsConnectionLoss(closed));
        Assert.True(
            ReconnectingStream.IsConnectionLoss(new RpcException(new Status(StatusCode.Unavailable, "x")))
        );
    }

    [Fact]
    public void A_server_side_INTERNAL_or_another_status_is_final()
    {
        Assert.False(
            ReconnectingStream.IsConnectionLoss(
                new RpcException(new Status(StatusCode.Internal, "model failed"))
            )
        );
        Assert.False(
            ReconnectingStream.IsConnectionLoss(
                new RpcException(new Status(StatusCode.InvalidArgument, "bad"))
            )
        );
    }
}
