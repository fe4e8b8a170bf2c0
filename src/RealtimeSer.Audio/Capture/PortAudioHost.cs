using System.Globalization;
using System.Runtime.InteropServices;

namespace RealtimeSer.Audio.Capture;

/// <summary>
/// One <c>Pa_Initialize</c>/<c>Pa_Terminate</c> pair: lists devices and opens capture streams. Streams
/// take their own library reference, so they may outlive the host.
/// </summary>
public sealed class PortAudioHost : IDisposable
{
    private readonly bool _showNativeOutput;
    private int _disposed;

    private PortAudioHost(bool showNativeOutput) => _showNativeOutput = showNativeOutput;

    /// <summary>
    /// Loads PortAudio and initialises it; <see cref="DllNotFoundException"/> says how to install it. What the
    /// audio backends print while probing (ALSA, JACK) is dropped unless <paramref name="showNativeOutput"/>.
    /// </summary>
    public static PortAudioHost Open(bool showNativeOutput = false)
    {
        PortAudioNative.EnsureLoaded();
        using (NativeChatter.Hide(showNativeOutput))
        {
            PortAudioNative.Check(PortAudioNative.Pa_Initialize(), "cannot initialise PortAudio");
        }
        return new PortAudioHost(showNativeOutput);
    }

    /// <summary>Whether the PortAudio library can be loaded on this machine (nothing is initialised).</summary>
    public static bool IsAvailable()
    {
        try
        {
            PortAudioNative.EnsureLoaded();
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }

    public static string VersionText
    {
        get
        {
            PortAudioNative.EnsureLoaded();
            return Marshal.PtrToStringUTF8(PortAudioNative.Pa_GetVersionText()) ?? "PortAudio";
        }
    }

    /// <summary>PortAudio's text for an error code (what <c>Pa_GetErrorText</c> says).</summary>
    public static string ErrorText(int errorCode)
    {
        PortAudioNative.EnsureLoaded();
        return PortAudioNative.ErrorText(errorCode);
    }

    public IReadOnlyList<AudioDevice> Devices()
    {
        ThrowIfDisposed();
        var count = PortAudioNative.Check(PortAudioNative.Pa_GetDeviceCount(), "cannot count audio devices");
        var defaultInput = PortAudioNative.Pa_GetDefaultInputDevice();
        var devices = new List<AudioDevice>(count);
        for (var i = 0; i < count; i++)
        {
            var info = PortAudioNative.Pa_GetDeviceInfo(i);
            if (info == IntPtr.Zero)
            {
                continue;
            }
            var d = Marshal.PtrToStructure<PortAudioNative.PaDeviceInfo>(info);
            devices.Add(
                new AudioDevice(
                    i,
                    Marshal.PtrToStringUTF8(d.Name) ?? $"device {i}",
                    HostApiName(d.HostApi),
                    d.MaxInputChannels,
                    d.MaxOutputChannels,
                    d.DefaultSampleRate,
                    d.DefaultLowInputLatency,
                    d.DefaultHighInputLatency,
                    i == defaultInput
                )
            );
        }
        return devices;
    }

    /// <summary>
    /// The input device <paramref name="spec"/> names: null for the default input, an index as
    /// <c>ser devices</c> lists, or (part of) a device name, case-insensitive, an exact name winning.
    /// </summary>
    public AudioDevice FindInput(string? spec)
    {
        var inputs = Devices().Where(d => d.InputChannels > 0).ToList();
        if (inputs.Count == 0)
        {
            throw new PortAudioException(
                "no audio input device found (is a microphone connected, and can this user open it?); "
                    + "`ser devices` lists what PortAudio sees"
            );
        }
        if (string.IsNullOrWhiteSpace(spec))
        {
            return inputs.FirstOrDefault(d => d.IsDefaultInput)
                ?? throw new PortAudioException(
                    "there is no default input device; pick one with --device N or --device NAME (see `ser devices`)"
                );
        }
        if (int.TryParse(spec, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index))
        {
            return inputs.FirstOrDefault(d => d.Index == index)
                ?? throw new PortAudioException(
                    $"no input device with index {index}; `ser devices` lists the devices with their index"
                );
        }
        var exact = inputs
            .Where(d => string.Equals(d.Name, spec, StringComparison.OrdinalIgnoreCase))
            .ToList();
        var matches =
            exact.Count > 0
                ? exact
                : inputs.Where(d => d.Name.Contains(spec, StringComparison.OrdinalIgnoreCase)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new PortAudioException(
                $"no input device named '{spec}'; `ser devices` lists the devices (use a name or an index)"
            ),
            _ => throw new PortAudioException(
                $"'{spec}' matches several input devices ({string.Join(", ", matches.Select(m => $"{m.Index}: {m.Name}"))}); "
                    + "use --device N with one of these indexes"
            ),
        };
    }

    /// <summary>
    /// Opens a blocking float32 capture stream on <paramref name="device"/>, at its default rate unless
    /// <paramref name="sampleRate"/> says otherwise, delivering <paramref name="framesPerBlock"/> frames per read.
    /// </summary>
    public CaptureStream OpenCapture(
        AudioDevice device,
        int channels = 1,
        double? sampleRate = null,
        int framesPerBlock = 0
    )
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        var rate = sampleRate ?? device.DefaultSampleRate;
        if (rate < 1000)
        {
            throw new PortAudioException(
                $"device {device.Index} ({device.Name}) reports no usable sample rate ({rate} Hz)"
            );
        }
        var frames = framesPerBlock > 0 ? framesPerBlock : (int)Math.Round(rate * 0.02);
        var parameters = new PortAudioNative.PaStreamParameters
        {
            Device = device.Index,
            ChannelCount = Math.Min(channels, Math.Max(1, device.InputChannels)),
            SampleFormat = new CULong((nuint)PortAudioNative.PaFloat32),
            // The high latency is the safer default for a blocking reader sharing cores with inference.
            SuggestedLatency = device.DefaultHighInputLatency,
        };
        int error;
        IntPtr stream;
        using (NativeChatter.Hide(_showNativeOutput))
        {
            // The stream holds its own initialisation so the host may be disposed first.
            PortAudioNative.Check(PortAudioNative.Pa_Initialize(), "cannot initialise PortAudio");
            error = PortAudioNative.Pa_OpenStream(
                out stream,
                in parameters,
                IntPtr.Zero,
                rate,
                new CULong((nuint)frames),
                new CULong((nuint)PortAudioNative.PaClipOff),
                IntPtr.Zero,
                IntPtr.Zero
            );
            if (error != PortAudioNative.PaNoError || stream == IntPtr.Zero)
            {
                PortAudioNative.Pa_Terminate();
            }
        }
        if (error != PortAudioNative.PaNoError || stream == IntPtr.Zero)
        {
            throw new PortAudioException(
                $"cannot open input device {device.Index} ({device.Name}) at {rate:0} Hz, "
                    + $"{parameters.ChannelCount} channel(s): {PortAudioNative.ErrorText(error)}",
                error
            );
        }
        var handle = new PortAudioStreamHandle();
        handle.Attach(stream);
        return new CaptureStream(handle, device, (int)Math.Round(rate), parameters.ChannelCount, frames);
    }

    private static string HostApiName(int hostApi)
    {
        var info = PortAudioNative.Pa_GetHostApiInfo(hostApi);
        return info == IntPtr.Zero
            ? "?"
            : Marshal.PtrToStringUTF8(Marshal.PtrToStructure<PortAudioNative.PaHostApiInfo>(info).Name)
                ?? "?";
    }

    private void ThrowIfDisposed() =>
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            using (NativeChatter.Hide(_showNativeOutput))
            {
                PortAudioNative.Pa_Terminate();
            }
        }
    }
}
