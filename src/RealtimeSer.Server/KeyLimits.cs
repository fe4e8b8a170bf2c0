using System.Diagnostics;
using System.Globalization;
using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>
/// Per-API-key limits: concurrent streams, and a token bucket on calls started (refilled continuously at
/// <see cref="ServerOptions.RequestsPerSecondPerKey"/>, holding at most <see cref="ServerOptions.RequestBurstPerKey"/>).
/// Keys are identified by their index in the configured hash list, never by the key itself. With
/// authentication off there is no identity, and only the server-wide limits apply.
/// </summary>
internal sealed class KeyLimits
{
    private readonly ServerOptions _options;
    private readonly Func<long> _now;
    private readonly Bucket[] _buckets;

    public KeyLimits(ServerOptions options, int keys, Func<long>? now = null)
    {
        _options = options;
        _now = now ?? Stopwatch.GetTimestamp;
        _buckets = new Bucket[Math.Max(0, keys)];
        var start = _now();
        for (var i = 0; i < _buckets.Length; i++)
        {
            _buckets[i] = new Bucket { Tokens = options.RequestBurstPerKey, Stamp = start };
        }
    }

    /// <summary>Takes one call from the key's bucket, or throws RESOURCE_EXHAUSTED saying when to retry.</summary>
    public void CheckRate(int key)
    {
        if ((uint)key >= (uint)_buckets.Length || _options.RequestsPerSecondPerKey <= 0)
        {
            return;
        }
        var bucket = _buckets[key];
        double wait;
        lock (bucket)
        {
            var now = _now();
            var seconds = (now - bucket.Stamp) / (double)Stopwatch.Frequency;
            bucket.Stamp = now;
            bucket.Tokens = Math.Min(
                _options.RequestBurstPerKey,
                bucket.Tokens + seconds * _options.RequestsPerSecondPerKey
            );
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return;
            }
            wait = (1 - bucket.Tokens) / _options.RequestsPerSecondPerKey;
        }
        var retry = TimeSpan.FromMilliseconds(Math.Ceiling(wait * 1000));
        throw new RpcException(
            new Status(
                StatusCode.ResourceExhausted,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"Rate limit: this API key may start {_options.RequestsPerSecondPerKey:0.##} calls per second (burst {_options.RequestBurstPerKey}); retry in {retry.TotalMilliseconds:0} ms."
                )
            ),
            RetryAfter(retry)
        );
    }

    /// <summary>The trailer clients read to wait before retrying a refused call, in whole milliseconds (at least 1).</summary>
    public const string RetryAfterTrailer = "retry-after-ms";

    public static Metadata RetryAfter(TimeSpan wait) =>
        new()
        {
            {
                RetryAfterTrailer,
                Math.Max(1, (long)Math.Ceiling(wait.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture)
            },
        };

    /// <summary>Counts one more stream against the key, or throws RESOURCE_EXHAUSTED at its limit.</summary>
    public bool TryEnterStream(int key)
    {
        if ((uint)key >= (uint)_buckets.Length || _options.MaxStreamsPerKey <= 0)
        {
            return false;
        }
        var bucket = _buckets[key];
        if (Interlocked.Increment(ref bucket.Streams) > _options.MaxStreamsPerKey)
        {
            Interlocked.Decrement(ref bucket.Streams);
            throw new RpcException(
                new Status(
                    StatusCode.ResourceExhausted,
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"This API key is at its limit of {_options.MaxStreamsPerKey} concurrent streams; end one or retry later."
                    )
                )
            );
        }
        return true;
    }

    public void ExitStream(int key) => Interlocked.Decrement(ref _buckets[key].Streams);

    /// <summary>Streams the key holds now (tests, diagnostics).</summary>
    public int Streams(int key) =>
        (uint)key < (uint)_buckets.Length ? Volatile.Read(ref _buckets[key].Streams) : 0;

    private sealed class Bucket
    {
        public double Tokens;
        public long Stamp;
        public int Streams;
    }
}
