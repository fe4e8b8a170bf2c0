namespace RealtimeSer.Server;

/// <summary>
/// What the dashboard counts as negative and when it highlights a call. Labels are matched without regard
/// to case against each model's own labels, so one setting serves models that say "angry" or "anger".
/// </summary>
public sealed class DashboardOptions
{
    /// <summary>Labels counted in a channel's share of negative emotions.</summary>
    public List<string> NegativeLabels { get; set; } =
    ["angry", "anger", "disgust", "fear", "fearful", "sad", "sadness", "frustrated", "contempt"];

    /// <summary>Labels whose share of recent speech raises the alert; empty means the negative labels.</summary>
    public List<string> AlertLabels { get; set; } = ["angry", "anger"];

    /// <summary>
    /// Share (0–1) of a channel's speech in the recent window above which the call is highlighted. The default is
    /// the threshold with the best F1 on calls of dev speakers (general6's model card, *The dashboard's anger
    /// alert*, with precision and recall per threshold).
    /// </summary>
    public double AlertShare { get; set; } = 0.5;

    /// <summary>How far back "recent" reaches, in seconds of stream time.</summary>
    public double AlertWindowSeconds { get; set; } = 30;

    /// <summary>Speech a channel must have in the recent window before it can raise an alert.</summary>
    public double AlertMinSpeechSeconds { get; set; } = 2;

    /// <summary>How often the dashboard's live feed sends a snapshot when nothing opens or closes.</summary>
    public double PushIntervalSeconds { get; set; } = 1;

    /// <summary>Live feeds (<c>/v1/streams/live</c>) the server serves at once; more get HTTP 429.</summary>
    public int MaxSubscribers { get; set; } = 32;

    /// <summary>Live feeds one API key may hold at once (with keys configured).</summary>
    public int MaxSubscribersPerKey { get; set; } = 4;

    public void Validate()
    {
        if (MaxSubscribers < 1 || MaxSubscribersPerKey < 1)
        {
            throw new ArgumentException("dashboard: the subscriber limits must be ≥ 1.");
        }
        if (
            AlertShare is < 0 or > 1
            || AlertWindowSeconds <= 0
            || AlertMinSpeechSeconds < 0
            || PushIntervalSeconds <= 0
        )
        {
            throw new ArgumentException(
                "dashboard: alert share must be 0–1, the alert window and push interval > 0, the minimum speech ≥ 0."
            );
        }
    }
}
