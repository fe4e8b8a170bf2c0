using System.Globalization;
using System.Text;

namespace RealtimeSer.Server;

/// <summary>
/// What a replica can take and what it holds, for sizing a fleet behind a load balancer: Prometheus gauges
/// labelled with the replica id, appended to /metrics. The id is <c>REALTIMESER_REPLICA_ID</c>, else
/// <c>HOSTNAME</c> (the pod name under Kubernetes), else the machine name, with the gRPC port.
/// </summary>
public sealed class CapacityReporter(SerServer server)
{
    public const string ReplicaIdVariable = "REALTIMESER_REPLICA_ID";

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
                + server.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The capacity series in the Prometheus text format (0.0.4).</summary>
    public string Scrape()
    {
        var replica = Escape(ReplicaId);
        var capacity = server.Options.MaxConcurrentStreams;
        var admitted = server.LiveStreams;
        var text = new StringBuilder();
        Gauge(
            text,
            "ser_replica_info",
            "This replica: id and default model (value always 1).",
            $"{{replica=\"{replica}\",model=\"{Escape(server.Models.Default.Classifier.Manifest.Id)}\"}}",
            1
        );
        var label = $"{{replica=\"{replica}\"}}";
        Gauge(
            text,
            "ser_capacity_streams",
            "Configured maximum of concurrent streams on this replica (--max-streams).",
            label,
            capacity
        );
        Gauge(
            text,
            "ser_streams_admitted",
            "Streams admitted by this replica and not yet finished.",
            label,
            admitted
        );
        Gauge(
            text,
            "ser_capacity_utilization",
            "Admitted streams over the configured maximum (1 = full: new streams get RESOURCE_EXHAUSTED).",
            label,
            (double)admitted / capacity
        );
        Gauge(
            text,
            "ser_serving",
            "1 while the replica accepts new streams, 0 once it is draining (health NOT_SERVING).",
            label,
            server.Lifetime.IsStopping ? 0 : 1
        );
        return text.ToString();
    }

    private static void Gauge(StringBuilder text, string name, string help, string labels, double value) =>
        text.Append("# HELP ")
            .Append(name)
            .Append(' ')
            .Append(help)
            .Append("\n# TYPE ")
            .Append(name)
            .Append(" gauge\n")
            .Append(name)
            .Append(labels)
            .Append(' ')
            .Append(value.ToString("R", CultureInfo.InvariantCulture))
            .Append('\n');

    private static string Escape(string value) =>
        value
            .Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);
}
