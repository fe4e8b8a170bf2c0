using System.Net;

namespace RealtimeSer.Grpc.Tests;

public sealed class ProtocolTests
{
    [Theory]
    [InlineData("1H", 3600_000.0)]
    [InlineData("2M", 120_000.0)]
    [InlineData("30S", 30_000.0)]
    [InlineData("250m", 250.0)]
    [InlineData("1500u", 1.5)]
    [InlineData("2000000n", 2.0)]
    [InlineData("99999999S", 99_999_999_000.0)]
    public void Timeout_units_parse(string value, double ms)
    {
        Assert.True(GrpcTimeout.TryParse(value, out var t));
        Assert.Equal(ms, t.TotalMilliseconds, 3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10s")]
    [InlineData("-1S")]
    [InlineData("123456789S")]
    [InlineData("1.5S")]
    public void Malformed_timeouts_are_rejected(string value) =>
        Assert.False(GrpcTimeout.TryParse(value, out _));

    [Fact]
    public void Timeout_format_round_trips_and_rounds_up()
    {
        Assert.Equal("1500m", GrpcTimeout.Format(TimeSpan.FromSeconds(1.5)));
        Assert.Equal("1m", GrpcTimeout.Format(TimeSpan.FromTicks(1)));
        Assert.True(GrpcTimeout.TryParse(GrpcTimeout.Format(TimeSpan.FromDays(30)), out var back));
        Assert.True(back >= TimeSpan.FromDays(30));
        Assert.True(GrpcTimeout.Format(TimeSpan.FromDays(3000)).Length <= 9);
    }

    [Theory]
    [InlineData("plain ascii", "plain ascii")]
    [InlineData("100%", "100%25")]
    [InlineData("line\nbreak", "line%0Abreak")]
    [InlineData("größer", "gr%C3%B6%C3%9Fer")]
    [InlineData("a\u007fb", "a%7Fb")]
    public void Percent_encoding_matches_the_spec(string raw, string encoded)
    {
        Assert.Equal(encoded, PercentEncoding.Encode(raw));
        Assert.Equal(raw, PercentEncoding.Decode(encoded));
    }

    [Theory]
    [InlineData("%", "%")]
    [InlineData("%G1x", "%G1x")]
    [InlineData("end%4", "end%4")]
    public void Malformed_percent_escapes_pass_through(string value, string decoded) =>
        Assert.Equal(decoded, PercentEncoding.Decode(value));

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/GRPC; charset=utf-8", true)]
    [InlineData("application/grpc+json", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void Content_type_check(string? contentType, bool ok) =>
        Assert.Equal(ok, GrpcProtocol.IsGrpcContentType(contentType));

    [Theory]
    [InlineData(HttpStatusCode.BadRequest, GrpcStatusCode.Internal)]
    [InlineData(HttpStatusCode.Unauthorized, GrpcStatusCode.Unauthenticated)]
    [InlineData(HttpStatusCode.Forbidden, GrpcStatusCode.PermissionDenied)]
    [InlineData(HttpStatusCode.NotFound, GrpcStatusCode.Unimplemented)]
    [InlineData(HttpStatusCode.TooManyRequests, GrpcStatusCode.Unavailable)]
    [InlineData(HttpStatusCode.ServiceUnavailable, GrpcStatusCode.Unavailable)]
    [InlineData(HttpStatusCode.InternalServerError, GrpcStatusCode.Unknown)]
    public void Http_status_maps_to_grpc_status(HttpStatusCode http, GrpcStatusCode grpc) =>
        Assert.Equal(grpc, GrpcStatus.FromHttpStatus(http).Code);

    [Fact]
    public void Exceptions_map_to_statuses_without_leaking_details()
    {
        Assert.Equal(
            GrpcStatusCode.NotFound,
            GrpcStatus.FromException(new GrpcException(GrpcStatusCode.NotFound, "x")).Code
        );
        Assert.Equal(
            GrpcStatusCode.DeadlineExceeded,
            GrpcStatus.FromException(new OperationCanceledException(), deadlineExpired: true).Code
        );
        Assert.Equal(
            GrpcStatusCode.Cancelled,
            GrpcStatus.FromException(new OperationCanceledException()).Code
        );
        var internalStatus = GrpcStatus.FromException(new InvalidOperationException("secret path /x"));
        Assert.Equal(GrpcStatusCode.Internal, internalStatus.Code);
        Assert.DoesNotContain("secret", internalStatus.Detail, StringComparison.Ordinal);
    }
}
