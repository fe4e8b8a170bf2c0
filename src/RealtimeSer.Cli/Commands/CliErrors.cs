using RealtimeSer.Audio;
using RealtimeSer.Audio.Capture;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Commands;

/// <summary>Turns the failures users can act on into one clear line and an exit code, instead of a stack trace.</summary>
internal static class CliErrors
{
    public const int Failure = 1;
    public const int Cancelled = 130;

    public static async Task<int> RunAsync(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("ser: cancelled");
            return Cancelled;
        }
        catch (Exception e) when (IsUserFacing(e))
        {
            await Console.Error.WriteLineAsync($"ser: error: {e.Message}");
            return Failure;
        }
    }

    private static bool IsUserFacing(Exception e) =>
        e
            is AudioFormatException
                or FileNotFoundException
                or DirectoryNotFoundException
                or InvalidDataException
                or OnnxException
                or DllNotFoundException
                or ArgumentException
                or UnauthorizedAccessException
                or PortAudioException
                or RealtimeSer.Server.ListenException;
}
