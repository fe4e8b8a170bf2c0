using System.Text.Json;

namespace RealtimeSer.Tests.Shared;

/// <summary>
/// Scores detected speech against the fixture truth as ../shared/data/README.md prescribes: 10 ms frames,
/// frames within 300 ms of a truth span boundary ignored.
/// </summary>
internal static class SpeechScoring
{
    public sealed record Truth(double DurationSeconds, IReadOnlyList<TruthTurn> Turns);

    public sealed record TruthTurn(
        int Channel,
        double Start,
        double End,
        string Emotion,
        (double Start, double End)[] Speech
    );

    public sealed record Score(
        double Recall,
        double Precision,
        int TruePositive,
        int FalsePositive,
        int FalseNegative
    );

    public static Truth LoadTruth(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var turns = root.GetProperty("segments")
            .EnumerateArray()
            .Select(s => new TruthTurn(
                s.GetProperty("channel").GetInt32(),
                s.GetProperty("start_s").GetDouble(),
                s.GetProperty("end_s").GetDouble(),
                s.GetProperty("emotion").GetString()!,
                s.GetProperty("speech_s")
                    .EnumerateArray()
                    .Select(p => (p[0].GetDouble(), p[1].GetDouble()))
                    .ToArray()
            ))
            .ToList();
        return new Truth(root.GetProperty("duration_s").GetDouble(), turns);
    }

    public static Score ScoreChannel(
        Truth truth,
        int channel,
        IEnumerable<(double Start, double End)> detected
    )
    {
        const double frame = 0.01;
        const double guard = 0.3;
        var spans = truth.Turns.Where(t => t.Channel == channel).SelectMany(t => t.Speech).ToArray();
        var boundaries = spans.SelectMany(s => new[] { s.Start, s.End }).ToArray();
        var found = detected.ToArray();
        int tp = 0,
            fp = 0,
            fn = 0;
        var frames = (int)(truth.DurationSeconds / frame);
        for (var i = 0; i < frames; i++)
        {
            var t = (i + 0.5) * frame;
            if (boundaries.Any(b => Math.Abs(b - t) < guard))
            {
                continue;
            }
            var isSpeech = spans.Any(s => t >= s.Start && t < s.End);
            var isDetected = found.Any(s => t >= s.Start && t < s.End);
            if (isSpeech && isDetected)
            {
                tp++;
            }
            else if (isDetected)
            {
                fp++;
            }
            else if (isSpeech)
            {
                fn++;
            }
        }
        return new Score(tp / (double)Math.Max(1, tp + fn), tp / (double)Math.Max(1, tp + fp), tp, fp, fn);
    }

    /// <summary>
    /// Each truth turn's label by a duration-weighted vote of the detected segments overlapping it; returns how
    /// many turns agree with the truth emotion (turns no segment overlaps count as disagreeing).
    /// <paramref name="truthLabel"/> maps a turn's emotion onto the model's labels (arousal3: its level); a turn
    /// it maps to null is left out of both counts.
    /// </summary>
    public static (int Agree, int Turns) TurnLabelAgreement(
        Truth truth,
        int channel,
        IEnumerable<(double Start, double End, string Label)> finals,
        Func<string, string?>? truthLabel = null
    )
    {
        var segments = finals.ToArray();
        int agree = 0,
            turns = 0;
        foreach (var turn in truth.Turns.Where(t => t.Channel == channel))
        {
            var expected = truthLabel is null ? turn.Emotion : truthLabel(turn.Emotion);
            if (expected is null)
            {
                continue;
            }
            turns++;
            var votes = new Dictionary<string, double>();
            foreach (var (start, end, label) in segments)
            {
                var overlap = Math.Min(end, turn.End) - Math.Max(start, turn.Start);
                if (overlap > 0)
                {
                    votes[label] = votes.GetValueOrDefault(label) + overlap;
                }
            }
            if (votes.Count > 0 && votes.MaxBy(v => v.Value).Key == expected)
            {
                agree++;
            }
        }
        return (agree, turns);
    }
}
