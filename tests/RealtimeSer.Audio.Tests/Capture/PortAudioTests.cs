using RealtimeSer.Audio.Capture;

namespace RealtimeSer.Audio.Tests.Capture;

/// <summary>The PortAudio layer without a sound card: loading, error text, enumeration, device lookup.</summary>
public class PortAudioTests
{
    private static void RequirePortAudio() =>
        Skip.IfNot(PortAudioHost.IsAvailable(), "PortAudio not found: apt-get install libportaudio2");

    [SkippableFact]
    public void Library_loads_and_names_its_version()
    {
        RequirePortAudio();
        Assert.Contains("PortAudio", PortAudioHost.VersionText, StringComparison.OrdinalIgnoreCase);
    }

    [SkippableFact]
    public void Error_text_comes_from_PortAudio()
    {
        RequirePortAudio();
        Assert.Equal("Invalid device", PortAudioHost.ErrorText(PortAudioNativeCodes.InvalidDevice));
        Assert.Contains(
            "overflow",
            PortAudioHost.ErrorText(PortAudioNativeCodes.InputOverflowed),
            StringComparison.OrdinalIgnoreCase
        );
    }

    [SkippableFact]
    public void Devices_enumerate_without_a_sound_card()
    {
        RequirePortAudio();
        using var host = PortAudioHost.Open();
        // Enumeration works with no device at all (a CI machine has none); at most one default input.
        var devices = host.Devices();
        Assert.True(devices.Count(d => d.IsDefaultInput) <= 1);
    }

    [SkippableFact]
    public void Every_enumerated_device_has_a_name_and_plausible_figures()
    {
        RequirePortAudio();
        using var host = PortAudioHost.Open();
        var devices = host.Devices();
        // This process cannot be given a virtual device (ALSA reads its configuration from the native
        // environment at start-up); Cli.Tests' ListenCommandTests.Devices_lists_the_virtual_microphone_as_default_input
        // checks a device's fields through one in a child process.
        Skip.If(
            devices.Count == 0,
            "hardware: no audio device on this machine, so no device fields to check"
        );
        Assert.All(devices, d => Assert.False(string.IsNullOrEmpty(d.Name)));
        Assert.All(devices, d => Assert.True(d.InputChannels >= 0 && d.DefaultSampleRate >= 0));
    }

    [SkippableFact]
    public void Unknown_device_is_a_PortAudioException_pointing_at_ser_devices()
    {
        RequirePortAudio();
        using var host = PortAudioHost.Open();
        var e = Assert.Throws<PortAudioException>(() => host.FindInput("no such microphone, surely"));
        Assert.Contains("ser devices", e.Message);
        var byIndex = Assert.Throws<PortAudioException>(() => host.FindInput("9999"));
        Assert.Contains("ser devices", byIndex.Message);
    }

    [Fact]
    public void Library_candidates_start_with_the_debian_soname()
    {
        Assert.Equal("libportaudio.so.2", PortAudioNative.Candidates[0]);
        Assert.Contains("portaudio", PortAudioNative.Candidates);
    }

    [SkippableFact]
    public void Disposed_host_refuses_work()
    {
        RequirePortAudio();
        var host = PortAudioHost.Open();
        host.Dispose();
        host.Dispose();
        Assert.Throws<ObjectDisposedException>(() => host.Devices());
    }

    private static class PortAudioNativeCodes
    {
        public const int InvalidDevice = -9996;
        public const int InputOverflowed = PortAudioNative.PaInputOverflowed;
    }
}
