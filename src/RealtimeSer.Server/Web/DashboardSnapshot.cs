using System.Text.Json.Serialization;

namespace RealtimeSer.Server;

/// <summary>What the dashboard receives: the alert rule and every live stream, most negative first.</summary>
public sealed record DashboardSnapshot(
    DateTimeOffset ServerTime,
    AlertRule Alert,
    IReadOnlyList<string> NegativeLabels,
    IReadOnlyList<StreamSnapshot> Streams
);

public sealed record AlertRule(IReadOnlyList<string> Labels, double Share, double WindowS, double MinSpeechS);

/// <summary>One stream: labels and speech times only, never audio.</summary>
public sealed record StreamSnapshot(
    string Id,
    string Source,
    string Model,
    DateTimeOffset StartedAt,
    double DurationS,
    IReadOnlyList<ChannelSnapshot> Channels,
    LastFinal? LastFinal,
    double RecentNegativeShare,
    bool Alert
);

/// <summary>
/// One channel: <see cref="NegativeShare"/> over all its final segments so far; the recent shares over the
/// alert window (finals plus the open segment's latest interim label).
/// </summary>
public sealed record ChannelSnapshot(
    int Channel,
    string? Name,
    bool InSpeech,
    string? Label,
    double SpeechS,
    double NegativeShare,
    double RecentSpeechS,
    double RecentNegativeShare,
    double RecentAlertShare,
    bool Alert
);

public sealed record LastFinal(int Channel, string? ChannelName, string Label, double StartS, double EndS);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never
)]
[JsonSerializable(typeof(DashboardSnapshot))]
internal sealed partial class WebJsonContext : JsonSerializerContext;
