using Microsoft.Win32.SafeHandles;

namespace RealtimeSer.Audio.Capture;

/// <summary>
/// An open PortAudio stream plus the library reference (<c>Pa_Initialize</c>) it was opened under. PortAudio
/// counts initialisations, so each stream holding its own keeps <c>Pa_Terminate</c> from pulling the host
/// out from under a stream that is still open, whatever order callers dispose in.
/// </summary>
internal sealed class PortAudioStreamHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public PortAudioStreamHandle()
        : base(ownsHandle: true) { }

    internal void Attach(IntPtr stream) => SetHandle(stream);

    protected override bool ReleaseHandle()
    {
        // Closing an active stream discards pending input as Pa_AbortStream would; that is what a release wants.
        var closed = PortAudioNative.Pa_CloseStream(handle);
        PortAudioNative.Pa_Terminate();
        return closed == PortAudioNative.PaNoError;
    }
}
