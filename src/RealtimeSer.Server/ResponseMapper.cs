using RealtimeSer.Core.Pipeline;
using RealtimeSer.Grpc.V1;
using CoreSpeech = RealtimeSer.Core.Pipeline.SpeechEvent;
using WireSpeech = RealtimeSer.Grpc.V1.SpeechEvent;

namespace RealtimeSer.Server;

/// <summary>Engine events to wire messages.</summary>
internal static class ResponseMapper
{
    public static WireSpeech ToWire(CoreSpeech e) =>
        new()
        {
            Type = e.IsStart ? WireSpeech.Types.Type.SpeechStart : WireSpeech.Types.Type.SpeechEnd,
            Channel = e.Channel,
            ChannelName = e.ChannelName ?? "",
            Segment = e.Segment,
            TimeOffsetSeconds = e.Seconds,
            SegmentStartSeconds = e.IsStart ? e.Seconds : e.StartSeconds,
        };

    public static EmotionResult ToWire(EmotionEvent e)
    {
        var result = new EmotionResult
        {
            IsFinal = e.IsFinal,
            Label = e.Label,
            Channel = e.Channel,
            ChannelName = e.ChannelName ?? "",
            Segment = e.Segment,
            StartSeconds = e.StartSeconds,
            EndSeconds = e.EndSeconds,
            Windows = e.Windows,
            WindowsDropped = e.WindowsDropped,
            Latency = new Latency
            {
                QueueMs = e.Latency.QueueMs,
                InferenceMs = e.Latency.InferenceMs,
                BatchSize = e.Latency.BatchSize,
                EndToEndMs = e.Latency.EndToEndMs,
            },
        };
        for (var i = 0; i < e.Labels.Count; i++)
        {
            result.Scores.Add(new LabelScore { Label = e.Labels[i], Score = e.Scores[i] });
        }
        if (e.Models.Count > 1)
        {
            foreach (var m in e.Models)
            {
                var model = new ModelResult
                {
                    Model = m.Model,
                    Label = m.Label,
                    InferenceMs = m.InferenceMs,
                };
                for (var i = 0; i < m.Labels.Count; i++)
                {
                    model.Scores.Add(new LabelScore { Label = m.Labels[i], Score = m.Scores[i] });
                }
                result.Models.Add(model);
            }
        }
        return result;
    }

    public static StreamStats Stats(EngineStream stream, TimeSpan elapsed) =>
        new()
        {
            AudioSeconds = stream.SecondsReceived,
            RealTimeFactor = elapsed > TimeSpan.Zero ? stream.SecondsReceived / elapsed.TotalSeconds : 0,
            WindowsClassified = stream.WindowsClassified,
            WindowsDropped = stream.WindowsDropped,
            AudioSecondsShed = stream.AudioSecondsShed,
            SegmentsLost = stream.SegmentsLost,
        };
}
