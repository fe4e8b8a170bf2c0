using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace RealtimeSer.Server;

/// <summary>
/// The admission rules every stream passes, whatever its transport (gRPC or the browser's WebSocket):
/// authentication, shutdown, the key's call rate, the server's concurrent-stream limit, adaptive admission
/// (live latency, <see cref="LoadGovernor"/>), then the key's concurrent-stream limit, in that order. Refusals are <see cref="RpcException"/>s (logged once here); each transport maps them to its own wire.
/// </summary>
internal sealed class StreamAdmission(
    ServerOptions options,
    ServerLifetime lifetime,
    ApiKeyAuthenticator auth,
    ILogger logger,
    LoadGovernor? governor = null
)
{
    private readonly KeyLimits _keyLimits = new(options, auth.KeyCount);
    private long _streams;

    /// <summary>Streams admitted and not yet finished (the concurrent-stream limit counts these).</summary>
    public long LiveStreams => Interlocked.Read(ref _streams);

    public bool KeysRequired => auth.Enabled;

    /// <summary>Authenticates a call that holds no stream slot (ListModels, the dashboard) and takes from its rate.</summary>
    public int AuthenticateCall(string? authorization)
    {
        try
        {
            var key = auth.Authenticate(authorization);
            _keyLimits.CheckRate(key);
            return key;
        }
        catch (RpcException e)
        {
            throw Refused(e);
        }
    }

    /// <summary>Admits one stream; the slot frees on dispose.</summary>
    public IDisposable Admit(string? authorization)
    {
        int key;
        try
        {
            key = auth.Authenticate(authorization);
        }
        catch (RpcException e)
        {
            throw Refused(e);
        }
        if (lifetime.IsStopping)
        {
            throw Refused(
                new Status(
                    StatusCode.Unavailable,
                    "The server is shutting down; reconnect to another instance."
                )
            );
        }
        try
        {
            _keyLimits.CheckRate(key);
        }
        catch (RpcException e)
        {
            throw Refused(e);
        }
        if (Interlocked.Increment(ref _streams) > options.MaxConcurrentStreams)
        {
            Interlocked.Decrement(ref _streams);
            throw Refused(
                new Status(
                    StatusCode.ResourceExhausted,
                    $"The server is at its limit of {options.MaxConcurrentStreams} concurrent streams; retry later."
                )
            );
        }
        if (governor?.RefusalReason((int)Interlocked.Read(ref _streams) - 1) is { } overloaded)
        {
            Interlocked.Decrement(ref _streams);
            throw Refused(
                new RpcException(
                    new(StatusCode.ResourceExhausted, overloaded),
                    KeyLimits.RetryAfter(TimeSpan.FromSeconds(options.AdmissionWindowSeconds))
                )
            );
        }
        bool perKey;
        try
        {
            perKey = _keyLimits.TryEnterStream(key);
        }
        catch (RpcException e)
        {
            Interlocked.Decrement(ref _streams);
            throw Refused(e);
        }
        return new Slot(this, perKey ? key : -1);
    }

    public RpcException Refused(Status status) => Refused(new RpcException(status));

    /// <summary>Logs the refusal; the exception keeps its trailers (a rate limit's retry hint).</summary>
    public RpcException Refused(RpcException refusal)
    {
        ServerLog.CallRefused(logger, CallStatus.Name(refusal.StatusCode), refusal.Status.Detail);
        return refusal;
    }

    private sealed class Slot(StreamAdmission owner, int key) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._streams);
                if (key >= 0)
                {
                    owner._keyLimits.ExitStream(key);
                }
            }
        }
    }
}
