using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace RealtimeSer.Server;

/// <summary>
/// Bearer API keys, stored only as SHA-256 hashes; comparison is constant-time and visits every key, so
/// timing tells an attacker nothing about which prefix or which key was close.
/// </summary>
public sealed class ApiKeyAuthenticator
{
    public const string Prefix = "sha256:";
    private readonly byte[][] _hashes;

    public ApiKeyAuthenticator(IEnumerable<string> hashes) => _hashes = ParseHashes(hashes);

    public bool Enabled => _hashes.Length > 0;

    /// <summary>How many keys are configured (per-key limits keep one entry each).</summary>
    public int KeyCount => _hashes.Length;

    public static string Hash(string key) =>
        Prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    internal static byte[][] ParseHashes(IEnumerable<string> hashes) =>
        hashes
            .Select(h =>
            {
                if (!h.StartsWith(Prefix, StringComparison.Ordinal) || h.Length != Prefix.Length + 64)
                {
                    throw new ArgumentException(
                        "API key hashes must look like sha256:<64 hex digits> (see `ser serve --help`)."
                    );
                }
                try
                {
                    return Convert.FromHexString(h.AsSpan(Prefix.Length));
                }
                catch (FormatException)
                {
                    throw new ArgumentException("API key hash is not hexadecimal after 'sha256:'.");
                }
            })
            .ToArray();

    /// <summary>
    /// Throws UNAUTHENTICATED unless keys are off or the request carries a valid bearer key. Returns which
    /// configured key matched (its index, the identity per-key limits count against), or -1 when keys are off.
    /// </summary>
    public int Authenticate(IHeaderDictionary headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return Authenticate(headers.Authorization.ToString());
    }

    /// <summary>As <see cref="Authenticate(IHeaderDictionary)"/>, from the value of an authorization header.</summary>
    public int Authenticate(string? authorization)
    {
        if (!Enabled)
        {
            return -1;
        }
        var value = authorization ?? "";
        const string bearer = "Bearer ";
        if (!value.StartsWith(bearer, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(
                new Status(
                    StatusCode.Unauthenticated,
                    "Missing API key: send metadata 'authorization: Bearer <key>'."
                )
            );
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(value[bearer.Length..].Trim()), hash);
        var matched = -1;
        for (var i = 0; i < _hashes.Length; i++)
        {
            // Every key is compared in full; the index is picked without a data-dependent branch.
            var equal = CryptographicOperations.FixedTimeEquals(hash, _hashes[i]) ? 1 : 0;
            matched += (i + 1 - (matched + 1)) * equal;
        }
        if (matched < 0)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Invalid API key."));
        }
        return matched;
    }
}
