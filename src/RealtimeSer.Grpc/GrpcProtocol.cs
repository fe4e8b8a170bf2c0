namespace RealtimeSer.Grpc;

/// <summary>The gRPC-over-HTTP/2 wire constants (grpc/grpc doc/PROTOCOL-HTTP2.md), kept in one place.</summary>
public static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string ContentTypeProto = "application/grpc+proto";
    public const string StatusTrailer = "grpc-status";
    public const string MessageTrailer = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string IdentityEncoding = "identity";
    public const string TeHeader = "te";
    public const string Trailers = "trailers";
    public const string AuthorizationHeader = "authorization";

    /// <summary>Compressed flag (1 byte) + big-endian message length (4 bytes).</summary>
    public const int HeaderSize = 5;

    /// <summary>The usual gRPC default for received messages.</summary>
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    /// <summary>Whether a content-type names gRPC with the protobuf codec (bare, +proto, with parameters).</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }
        var span = contentType.AsSpan();
        var semicolon = span.IndexOf(';');
        if (semicolon >= 0)
        {
            span = span[..semicolon];
        }
        span = span.Trim();
        return span.Equals(ContentType, StringComparison.OrdinalIgnoreCase)
            || span.Equals(ContentTypeProto, StringComparison.OrdinalIgnoreCase);
    }
}
