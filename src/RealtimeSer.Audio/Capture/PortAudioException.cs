namespace RealtimeSer.Audio.Capture;

/// <summary>PortAudio reported an error; the message carries PortAudio's own text and what was being done.</summary>
public class PortAudioException : Exception
{
    public PortAudioException() { }

    public PortAudioException(string message)
        : base(message) { }

    public PortAudioException(string message, Exception innerException)
        : base(message, innerException) { }

    public PortAudioException(string message, int errorCode)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>PortAudio's <c>PaError</c>, or 0 when the error did not come from PortAudio itself.</summary>
    public int ErrorCode { get; }
}
