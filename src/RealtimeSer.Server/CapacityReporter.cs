using System.Diagnostics.Metrics;
using System.Globalization;

namespace RealtimeSer.Server;

/// <summary>
/// What a replica can take and what it holds, for sizing a fleet behind a load balancer: gauges labelled with
/// the replica id, on the server's meter. The id is <c>REALTIMESER_REPLICA_ID</c>, else <c>HOSTNAME</c> (the
/// pod name under Kubernetes), else the machine name, with the gRPC port.
/// </summary>
public sealed class CapacityReporter
{
    public const string ReplicaIdVariable = "REALTIMESER_REPLICA_ID";

    private readonly SerServer _server;

    internal CapacityReporter(SerServer server, Meter meter)
    {
        _server = server;
        // No units: Prometheus names stay as they were (a unit of "1" would add _ratio).
        meter.CreateObservableGauge(
            "ser.replica_info",
            () =>
                new Measurement<int>(
                    1,
                    Replica,
                    new KeyValuePair<string, object?>("model", server.Models.Default.Classifier.Manifest.Id)
                ),
            description: "This replica: id and default model (value always 1)."
        );
        meter.CreateObservableGauge(
            "ser.capacity.streams",
            () => new Measurement<int>(server.Options.MaxConcurrentStreams, Replica),
            description: "Configured maximum of concurrent streams on this replica (--max-streams)."
        );
        meter.CreateObservableGauge(
            "ser.streams.admitted",
            () => new Measurement<long>(server.LiveStreams, Replica),
            description: "Streams admitted by this replica and not yet finished (gRPC and browser): the active-streams gauge."
        );
        meter.CreateObservableGauge(
            "ser.capacity.utilization",
            () =>
                new Measurement<double>(
                    (double)server.LiveStreams / server.Options.MaxConcurrentStreams,
                    Replica
                ),
            description: "Admitted streams over the configured maximum (1 = full: new streams get RESOURCE_EXHAUSTED)."
        );
        meter.CreateObservableGauge(
            "ser.serving",
            () => new Measurement<int>(server.Lifetime.IsStopping ? 0 : 1, Replica),
            description: "1 while the replica accepts new streams, 0 once it is draining (health NOT_SERVING)."
        );
    }

    /// <summary>This replica's id as reported in the <c>replica</c> label.</summary>
    public string ReplicaId =>
        Environment.GetEnvironmentVariable(ReplicaIdVariable) is { Length: > 0 } id
            ? id
            : (
                Environment.GetEnvironmentVariable("HOSTNAME") is { Length: > 0 } host
                    ? host
                    : Environment.MachineName
            )
                + ":"
                + _server.Port.ToString(CultureInfo.InvariantCulture);

    private KeyValuePair<string, object?> Replica => new("replica", ReplicaId);
}
