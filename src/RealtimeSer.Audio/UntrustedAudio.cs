namespace RealtimeSer.Audio;

/// <summary>
/// Opens a recording that someone else supplied (an upload to the server). Unlike <see cref="AudioFile"/>, it
/// decides the container from the file's first bytes and accepts only single-file audio containers: ffmpeg is
/// told which demuxer to use and may open no protocol but this one file, so a playlist (ffconcat, HLS, SDP,
/// ...) can never make the server read another file or a URL. Error messages name the recording as the
/// caller calls it, never by its path on the server.
/// </summary>
public static class UntrustedAudio
{
    /// <summary>What a refused upload is told, and what the docs list.</summary>
    public const string Accepted = "WAV, FLAC, MP3, Ogg (Vorbis, Opus), M4A/MP4/AAC, WebM/Matroska or AIFF";

    /// <summary>Opens <paramref name="path"/>; <paramref name="name"/> stands for it in every message.</summary>
    public static IAudioReader Open(string path, string name, string? ffmpegPath = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(name);
        Span<byte> head = stackalloc byte[16];
        int length;
        using (
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1)
        )
        {
            length = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        var demuxer = Sniff(head[..length]);
        if (demuxer is null)
        {
            throw new AudioFormatException(
                $"'{name}' is not a recording in a format the server accepts ({Accepted}); playlists and other "
                    + "containers are refused.",
                name
            );
        }
        var input = new FfmpegInput(path, name, demuxer);
        if (demuxer != "wav")
        {
            return FfmpegReader.Open(input, ffmpegPath);
        }
        try
        {
            // The reader disposes the stream when the header is refused.
            return new WavReader(
                new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096),
                name
            );
        }
        catch (AudioFormatException e) when (e.IsUnsupportedEncoding)
        {
            return FfmpegReader.Open(input, ffmpegPath);
        }
    }

    /// <summary>
    /// The ffmpeg demuxer for a file that starts with <paramref name="head"/> (at least 12 bytes to decide), or
    /// null when it is none of the accepted containers.
    /// </summary>
    public static string? Sniff(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 12 && head[8..12].SequenceEqual("WAVE"u8))
        {
            return
                head[..4].SequenceEqual("RIFF"u8)
                || head[..4].SequenceEqual("RF64"u8)
                || head[..4].SequenceEqual("BW64"u8)
                ? "wav"
                : null;
        }
        if (head.Length >= 12 && head[..4].SequenceEqual("FORM"u8))
        {
            return head[8..12].SequenceEqual("AIFF"u8) || head[8..12].SequenceEqual("AIFC"u8) ? "aiff" : null;
        }
        if (head.StartsWith("fLaC"u8))
        {
            return "flac";
        }
        if (head.StartsWith("OggS"u8))
        {
            return "ogg";
        }
        if (head.StartsWith((ReadOnlySpan<byte>)[0x1A, 0x45, 0xDF, 0xA3]))
        {
            return "matroska";
        }
        if (head.Length >= 8 && head[4..8].SequenceEqual("ftyp"u8))
        {
            return "mov";
        }
        if (head.StartsWith("ID3"u8))
        {
            // ID3 tags lead MP3 files (and, rarely, AAC ones, which the mp3 demuxer refuses cleanly).
            return "mp3";
        }
        if (head.Length >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0)
        {
            // An MPEG audio frame sync: layer bits 00 mark ADTS AAC, anything else MPEG layer I-III.
            return (head[1] & 0x06) == 0 ? "aac" : "mp3";
        }
        return null;
    }
}

/// <summary>How ffmpeg is to read one input: a forced demuxer and a display name mark an untrusted file.</summary>
internal sealed record FfmpegInput(string Path, string DisplayName, string? Demuxer)
{
    public static FfmpegInput Trusted(string path) => new(path, path, null);

    public bool IsUntrusted => Demuxer is not null;

    /// <summary>The options that go before <c>-i</c>, and the input itself.</summary>
    public IEnumerable<string> Arguments()
    {
        if (Demuxer is null)
        {
            yield return "-i";
            yield return Path;
            yield break;
        }
        // Only this one file: no other protocol (http, concat, subfile, ...) may be opened by any demuxer.
        yield return "-protocol_whitelist";
        yield return "file";
        yield return "-f";
        yield return Demuxer;
        if (Demuxer == "mov")
        {
            // External data references of QuickTime files name other files; never follow them.
            yield return "-enable_drefs";
            yield return "0";
        }
        yield return "-i";
        yield return "file:" + Path;
    }

    /// <summary>ffmpeg's words with the server's path replaced by the name the caller knows.</summary>
    public string Scrub(string text)
    {
        if (!IsUntrusted)
        {
            return text;
        }
        text = text.Replace("file:" + Path, DisplayName, StringComparison.Ordinal)
            .Replace(Path, DisplayName, StringComparison.Ordinal);
        var folder = System.IO.Path.GetDirectoryName(Path);
        return string.IsNullOrEmpty(folder) ? text : text.Replace(folder, "…", StringComparison.Ordinal);
    }
}
