using System.Diagnostics.Metrics;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Creates meters whose <see cref="Meter.Scope"/> is this factory, so that a listener can take exactly one
/// engine's and one server's instruments while other engines with the same meter names run in the same
/// process (tests run many servers at once). A host that registers it as its <see cref="IMeterFactory"/> sees
/// these meters as its own (Microsoft.Extensions.Diagnostics' <c>MeterScope.Local</c>). Disposing it disposes
/// every meter it created.
/// </summary>
public sealed class ScopedMeterFactory : IMeterFactory
{
    private readonly Lock _gate = new();
    private readonly List<Meter> _meters = [];
    private bool _disposed;

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
        }
        var meter = new Meter(
            new MeterOptions(options.Name)
            {
                Version = options.Version,
                Tags = options.Tags,
                TelemetrySchemaUrl = options.TelemetrySchemaUrl,
                Scope = this,
            }
        );
        lock (_gate)
        {
            _meters.Add(meter);
        }
        return meter;
    }

    public void Dispose()
    {
        Meter[] meters;
        lock (_gate)
        {
            _disposed = true;
            meters = [.. _meters];
            _meters.Clear();
        }
        foreach (var meter in meters)
        {
            meter.Dispose();
        }
    }
}
