namespace RealtimeSer.Audio;

/// <summary>
/// An audio file or stream cannot be decoded. The message names the file, says what is wrong and,
/// where possible, what to do about it.
/// </summary>
public class AudioFormatException : Exception
{
    public AudioFormatException() { }

    public AudioFormatException(string message)
        : base(message) { }

    public AudioFormatException(string message, Exception innerException)
        : base(message, innerException) { }

    public AudioFormatException(string message, string? path, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
    }

    /// <summary>The file that failed, when the source was a file.</summary>
    public string? Path { get; }

    /// <summary>
    /// True when the container was understood but its encoding is not decoded natively, so another
    /// decoder (ffmpeg) may still succeed.
    /// </summary>
    internal bool IsUnsupportedEncoding { get; init; }
}
