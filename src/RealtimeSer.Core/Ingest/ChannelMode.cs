namespace RealtimeSer.Core.Ingest;

/// <summary>How a multi-channel source becomes analysis streams.</summary>
public enum ChannelMode
{
    /// <summary>Each channel is analysed on its own (agent and customer of a stereo call).</summary>
    Split,

    /// <summary>All channels are averaged into one mono stream.</summary>
    Mix,
}
