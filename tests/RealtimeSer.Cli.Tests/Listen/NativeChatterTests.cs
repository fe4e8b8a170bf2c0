namespace RealtimeSer.Cli.Tests.Listen;

/// <summary>
/// What ALSA and JACK print while PortAudio probes (on a machine without a sound card or JACK server: dozens
/// of "ALSA lib ... cannot find card '0'" lines and "jack server is not running or cannot be started") stays
/// out of the user's terminal unless <c>--verbose</c>, while ser's own messages still get there. Runs with the
/// machine's own ALSA configuration, which is where the chatter comes from.
/// </summary>
public class NativeChatterTests
{
    public static TheoryData<string[]> Commands =>
        new() { new[] { "devices", "--all" }, new[] { "listen", "--seconds", "1", "--json" } };

    [SkippableTheory]
    [MemberData(nameof(Commands))]
    public async Task Only_ser_writes_to_stderr_without_verbose(string[] args)
    {
        VirtualMicrophone.RequirePortAudio();

        var (exit, _, err) = await RunAsync(args);

        var lines = Lines(err);
        Assert.True(lines.All(IsSers), $"native output reached stderr:\n{err}");
        if (exit != 0)
        {
            // Failing on this machine (no microphone): the reason is ser's, and it still gets through.
            Assert.Contains(lines, l => l.StartsWith("ser:", StringComparison.Ordinal));
        }
    }

    [SkippableFact]
    public async Task Verbose_shows_what_the_audio_libraries_print()
    {
        VirtualMicrophone.RequirePortAudio();

        var (_, _, err) = await RunAsync(["devices", "--all", "--verbose"]);

        var native = Lines(err).Where(l => !IsSers(l)).ToList();
        Skip.If(native.Count == 0, "the audio libraries here print nothing while probing: nothing to show");
        Assert.Contains(
            native,
            l =>
                l.StartsWith("ALSA lib", StringComparison.Ordinal)
                || l.Contains("jack", StringComparison.OrdinalIgnoreCase)
        );
    }

    [SkippableFact]
    public async Task Devices_all_finding_nothing_does_not_suggest_devices_all()
    {
        VirtualMicrophone.RequirePortAudio();

        var (exit, _, err) = await RunAsync(["devices", "--all"]);

        Skip.If(exit == 0, "this machine has audio devices: nothing to say about their absence");
        Assert.Contains(Lines(err), l => l.StartsWith("ser: ", StringComparison.Ordinal));
        Assert.DoesNotContain("`ser devices --all`", err, StringComparison.Ordinal);
    }

    private static Task<(int Exit, string Out, string Err)> RunAsync(string[] args) =>
        SerProcess.RunAsync(
            TimeSpan.FromMinutes(2),
            args,
            env =>
            {
                env.Remove("ALSA_CONFIG_PATH");
                env.Remove("JACK_NO_START_SERVER");
            }
        );

    private static List<string> Lines(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r'))];

    // ser's own lines: messages ("ser: ...") and the listen summary ("listen: ...") on a machine with a microphone.
    private static bool IsSers(string line) =>
        line.StartsWith("ser", StringComparison.Ordinal)
        || line.StartsWith("listen:", StringComparison.Ordinal);
}
