using System.Reflection;
using System.Runtime.InteropServices;

namespace RealtimeSer.Audio.Capture;

/// <summary>
/// The few PortAudio v19 functions capture needs. Signatures are blittable (pointers as <see cref="IntPtr"/>,
/// C <c>long</c> as <see cref="CLong"/>/<see cref="CULong"/>) so no unsafe code and no marshalling stubs run.
/// </summary>
internal static partial class PortAudioNative
{
    /// <summary>Logical name resolved by <see cref="Resolve"/>; never probed as such.</summary>
    private const string Library = "portaudio";

    public const int PaNoError = 0;
    public const int PaNoDevice = -1;
    public const int PaInputOverflowed = -9981;
    public const int PaNotInitialized = -10000;
    public const ulong PaFloat32 = 0x00000001;
    public const ulong PaClipOff = 0x00000001;

    /// <summary>Tried in order: the Debian/Ubuntu soname first, then what other platforms call it.</summary>
    internal static readonly string[] Candidates =
    [
        "libportaudio.so.2",
        "portaudio",
        "libportaudio.so",
        "libportaudio.2.dylib",
        "libportaudio",
        "portaudio_x64",
    ];

    private static readonly Lazy<IntPtr> s_handle = new(LoadLibrary);

    static PortAudioNative()
    {
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(PortAudioNative).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Another part of this assembly installed a resolver first; it then owns resolution.
        }
    }

    /// <summary>Loads the library (once) or throws <see cref="DllNotFoundException"/> with the install hint.</summary>
    public static void EnsureLoaded() => _ = s_handle.Value;

    /// <summary>Nothing but the static constructor's work: the resolver is in place once this returns.</summary>
    public static void InstallResolver() { }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name switch
        {
            Library => s_handle.Value,
            // The C library is loaded already; the program's own handle finds its symbols whatever its file is
            // called (libc.so.6, musl's, macOS's), where probing for "libc" would find a linker script.
            NativeChatter.Libc => NativeLibrary.GetMainProgramHandle(),
            _ => IntPtr.Zero,
        };

    private static IntPtr LoadLibrary()
    {
        var explicitPath = Environment.GetEnvironmentVariable("REALTIMESER_PORTAUDIO");
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return NativeLibrary.TryLoad(explicitPath, out var own)
                ? own
                : throw new DllNotFoundException(
                    $"PortAudio not found at REALTIMESER_PORTAUDIO={explicitPath}: apt-get install libportaudio2"
                );
        }
        foreach (var candidate in Candidates)
        {
            if (
                NativeLibrary.TryLoad(
                    candidate,
                    typeof(PortAudioNative).Assembly,
                    DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory,
                    out var handle
                )
            )
            {
                return handle;
            }
        }
        throw new DllNotFoundException("PortAudio not found: apt-get install libportaudio2");
    }

    [LibraryImport(Library)]
    public static partial int Pa_Initialize();

    [LibraryImport(Library)]
    public static partial int Pa_Terminate();

    [LibraryImport(Library)]
    public static partial IntPtr Pa_GetErrorText(int errorCode);

    [LibraryImport(Library)]
    public static partial IntPtr Pa_GetVersionText();

    [LibraryImport(Library)]
    public static partial int Pa_GetDeviceCount();

    [LibraryImport(Library)]
    public static partial int Pa_GetDefaultInputDevice();

    [LibraryImport(Library)]
    public static partial IntPtr Pa_GetDeviceInfo(int device);

    [LibraryImport(Library)]
    public static partial IntPtr Pa_GetHostApiInfo(int hostApi);

    [LibraryImport(Library)]
    public static partial int Pa_OpenStream(
        out IntPtr stream,
        in PaStreamParameters inputParameters,
        IntPtr outputParameters,
        double sampleRate,
        CULong framesPerBuffer,
        CULong streamFlags,
        IntPtr streamCallback,
        IntPtr userData
    );

    [LibraryImport(Library)]
    public static partial int Pa_StartStream(IntPtr stream);

    [LibraryImport(Library)]
    public static partial int Pa_StopStream(IntPtr stream);

    [LibraryImport(Library)]
    public static partial int Pa_AbortStream(IntPtr stream);

    [LibraryImport(Library)]
    public static partial int Pa_CloseStream(IntPtr stream);

    [LibraryImport(Library)]
    public static partial double Pa_GetStreamTime(IntPtr stream);

    [LibraryImport(Library)]
    public static partial IntPtr Pa_GetStreamInfo(IntPtr stream);

    [LibraryImport(Library)]
    public static partial CLong Pa_GetStreamReadAvailable(IntPtr stream);

    [LibraryImport(Library)]
    public static partial int Pa_ReadStream(IntPtr stream, ref float buffer, CULong frames);

    public static string ErrorText(int code)
    {
        var text = Pa_GetErrorText(code);
        return text == IntPtr.Zero
            ? $"PortAudio error {code}"
            : Marshal.PtrToStringUTF8(text) ?? $"error {code}";
    }

    /// <summary>Throws with PortAudio's own text when <paramref name="code"/> is an error.</summary>
    public static int Check(int code, string what) =>
        code < 0 ? throw new PortAudioException($"{what}: {ErrorText(code)}", code) : code;

    [StructLayout(LayoutKind.Sequential)]
    public struct PaStreamParameters
    {
        public int Device;
        public int ChannelCount;
        public CULong SampleFormat;
        public double SuggestedLatency;
        public IntPtr HostApiSpecificStreamInfo;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PaDeviceInfo
    {
        public int StructVersion;
        public IntPtr Name;
        public int HostApi;
        public int MaxInputChannels;
        public int MaxOutputChannels;
        public double DefaultLowInputLatency;
        public double DefaultLowOutputLatency;
        public double DefaultHighInputLatency;
        public double DefaultHighOutputLatency;
        public double DefaultSampleRate;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PaHostApiInfo
    {
        public int StructVersion;
        public int Type;
        public IntPtr Name;
        public int DeviceCount;
        public int DefaultInputDevice;
        public int DefaultOutputDevice;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PaStreamInfo
    {
        public int StructVersion;
        public double InputLatency;
        public double OutputLatency;
        public double SampleRate;
    }
}
