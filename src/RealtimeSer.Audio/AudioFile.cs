namespace RealtimeSer.Audio;

/// <summary>Opens any audio file: WAV natively, everything else through ffmpeg.</summary>
public static class AudioFile
{
    /// <summary>
    /// Opens <paramref name="path"/> for streaming. WAV is recognised by content, not extension, and decoded natively;
    /// other formats (and WAV encodings not decoded natively, e.g. ADPCM) go through ffmpeg when it is on PATH,
    /// else <see cref="AudioFormatException"/> says to install it. A missing file throws
    /// <see cref="FileNotFoundException"/>; a directory, <see cref="AudioFormatException"/> saying so.
    /// </summary>
    public static IAudioReader Open(string path) => Open(path, ffmpegPath: null);

    /// <inheritdoc cref="Open(string)"/>
    /// <param name="path">The audio file.</param>
    /// <param name="ffmpegPath">The ffmpeg executable for non-WAV files; null searches PATH.</param>
    public static IAudioReader Open(string path, string? ffmpegPath)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            // Opening a directory fails with "Access to the path is denied", even for root.
            throw new AudioFormatException($"{path} is a directory, not an audio file.", path);
        }
        if (!LooksLikeWav(path))
        {
            return FfmpegReader.Open(path, ffmpegPath);
        }

        try
        {
            return WavReader.Open(path);
        }
        catch (AudioFormatException e) when (e.IsUnsupportedEncoding)
        {
            try
            {
                return FfmpegReader.Open(path, ffmpegPath);
            }
            catch (AudioFormatException ffmpegError)
            {
                throw new AudioFormatException(
                    $"{e.Message} ffmpeg fallback: {ffmpegError.Message}",
                    path,
                    ffmpegError
                );
            }
        }
    }

    private static bool LooksLikeWav(string path)
    {
        Span<byte> magic = stackalloc byte[12];
        using var stream = new FileStream(
            path,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            bufferSize: 1
        );
        int total = 0;
        while (total < magic.Length)
        {
            int n = stream.Read(magic[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        if (total < 4)
        {
            // Too short to be anything; let the WAV parser produce the precise "truncated" message.
            return true;
        }

        return magic[..4].SequenceEqual("RIFF"u8)
            || magic[..4].SequenceEqual("RF64"u8)
            || magic[..4].SequenceEqual("BW64"u8);
    }
}
