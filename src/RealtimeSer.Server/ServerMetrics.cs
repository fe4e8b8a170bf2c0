using System.Diagnostics.Metrics;
using Grpc.Core;

namespace RealtimeSer.Server;

/// <summary>
/// The server's own instruments (the engine's are <see cref="RealtimeSer.Core.Pipeline.EngineMetrics"/>): finished
/// gRPC calls by method and status, on a meter named <see cref="LoadGovernor.MeterName"/>.
/// </summary>
internal sealed class ServerMetrics : IDisposable
{
    private readonly Counter<long> _calls;
    private readonly Counter<long> _unread;

    public ServerMetrics(IMeterFactory meters)
    {
        Meter = meters.Create(new MeterOptions(LoadGovernor.MeterName));
        _calls = Meter.CreateCounter<long>(
            "ser.grpc.calls",
            "{call}",
            "Finished gRPC calls by method and the status they ended with, calls refused before the handler (UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE) and client cancellations (CANCELLED, DEADLINE_EXCEEDED) included."
        );
        _unread = Meter.CreateCounter<long>(
            "ser.streams.unread",
            "{stream}",
            "Streams the server ended because their client took no event for Server:EventDeliveryTimeoutSeconds, by transport."
        );
    }

    public Meter Meter { get; }

    /// <param name="transport"><c>grpc</c> or <c>browser</c>.</param>
    public void StreamUnread(string transport) =>
        _unread.Add(1, new KeyValuePair<string, object?>("transport", transport));

    /// <param name="method">The full method path, <c>/package.Service/Method</c>.</param>
    public void CallFinished(string method, StatusCode code) =>
        _calls.Add(
            1,
            new KeyValuePair<string, object?>("method", method.TrimStart('/')),
            new KeyValuePair<string, object?>("code", CallStatus.Name(code))
        );

    public void Dispose() => Meter.Dispose();
}
