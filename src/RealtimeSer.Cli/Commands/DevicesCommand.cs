using System.CommandLine;
using System.Globalization;
using RealtimeSer.Audio.Capture;

namespace RealtimeSer.Cli.Commands;

/// <summary><c>ser devices</c>: audio devices PortAudio sees, with the index <c>ser listen --device</c> takes.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "One JSON line per device." };
        var all = new Option<bool>("--all") { Description = "Also list output-only devices." };
        var verbose = NativeOutputOption();
        var command = new Command(
            "devices",
            "List audio input devices (index, name, channels, default rate)."
        )
        {
            json,
            all,
            verbose,
        };
        command.SetAction(
            (parse, _) =>
                CliErrors.RunAsync(async () =>
                {
                    try
                    {
                        using var host = PortAudioHost.Open(parse.GetValue(verbose));
                        var everything = host.Devices();
                        var devices = everything
                            .Where(d => parse.GetValue(all) || d.InputChannels > 0)
                            .ToList();
                        if (devices.Count == 0)
                        {
                            // --all is worth suggesting only when it would list something.
                            await Console.Error.WriteLineAsync(
                                everything.Count == 0
                                    ? "ser: PortAudio sees no audio devices at all (no sound card, or none this user "
                                        + "may open: check `aplay -l` and membership of the audio group)"
                                    : $"ser: no audio input devices found (is a microphone connected?); {everything.Count} "
                                        + "output-only devices: `ser devices --all` lists them"
                            );
                            return CliErrors.Failure;
                        }
                        if (!parse.GetValue(json))
                        {
                            Console.WriteLine($"{"index", 5}  {"in", 3}  {"rate", 6}  name (host API)");
                        }
                        foreach (var d in devices)
                        {
                            Console.WriteLine(parse.GetValue(json) ? ToJson(d) : ToText(d));
                        }
                        return 0;
                    }
                    catch (PortAudioException e)
                    {
                        await Console.Error.WriteLineAsync($"ser: error: {e.Message}");
                        return CliErrors.Failure;
                    }
                })
        );
        return command;
    }

    /// <summary><c>--verbose</c> of the commands that open PortAudio (devices, listen).</summary>
    internal static Option<bool> NativeOutputOption() =>
        new("--verbose")
        {
            Description =
                "Show what the audio libraries (ALSA, JACK) print while PortAudio probes the devices; hidden by default.",
        };

    private static string ToText(AudioDevice d) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{(d.IsDefaultInput ? "*" : " ")}{d.Index, 4}  {d.InputChannels, 3}  {d.DefaultSampleRate, 6:0}  {d.Name} ({d.HostApi})"
        );

    private static string ToJson(AudioDevice d) =>
        JsonLine.Of(json =>
        {
            json.WriteNumber("index", d.Index);
            json.WriteString("name", d.Name);
            json.WriteString("host_api", d.HostApi);
            json.WriteNumber("input_channels", d.InputChannels);
            json.WriteNumber("output_channels", d.OutputChannels);
            json.WriteNumber("default_sample_rate", d.DefaultSampleRate);
            json.WriteBoolean("default_input", d.IsDefaultInput);
        });
}
