namespace RealtimeSer.Tests.Shared;

/// <summary>A clock that moves only when a test says so (one tick a microsecond).</summary>
internal sealed class ManualClock : TimeProvider
{
    public long Ticks { get; set; } = 1_000_000;

    public override long TimestampFrequency => 1_000_000;

    public override long GetTimestamp() => Ticks;

    public void Advance(double seconds) => Ticks += (long)(seconds * TimestampFrequency);
}
