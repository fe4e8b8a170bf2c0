namespace RealtimeSer.Audio.Capture;

/// <summary>An audio device as PortAudio sees it; <see cref="Index"/> is what <c>--device N</c> takes.</summary>
public sealed record AudioDevice(
    int Index,
    string Name,
    string HostApi,
    int InputChannels,
    int OutputChannels,
    double DefaultSampleRate,
    double DefaultLowInputLatency,
    double DefaultHighInputLatency,
    bool IsDefaultInput
);
