using System.Runtime.InteropServices;

namespace RealtimeSer.Audio.Capture;

/// <summary>
/// Keeps what PortAudio's backends print while they probe (ALSA's "cannot find card '0'" for every PCM it
/// knows, JACK's "jack server is not running or cannot be started") out of the user's terminal. They write
/// to file descriptor 2 directly, not through anything .NET can redirect, so for the length of a
/// <see cref="Hide"/> scope descriptor 2 points at /dev/null. That is process-wide: scopes take turns and
/// cover single native calls only.
/// </summary>
internal static partial class NativeChatter
{
    /// <summary>Resolved to the process's own symbols (<see cref="PortAudioNative"/>'s resolver).</summary>
    internal const string Libc = "libc";

    private const int StandardError = 2;

    private static readonly Lock Gate = new();
    private static bool s_jackAsked;

    /// <summary>
    /// Until disposed (on the same thread: the scope holds a lock), native writes to stderr are dropped, unless
    /// <paramref name="show"/> (<c>--verbose</c>). Also keeps JACK from starting a server as a side effect of
    /// listing devices.
    /// </summary>
    public static IDisposable Hide(bool show)
    {
        if (OperatingSystem.IsWindows())
        {
            return new Scope(-1, holdsGate: false);
        }
        PortAudioNative.InstallResolver();
        Gate.Enter();
        try
        {
            // Only if the user has not chosen (JACK users with a running server are unaffected either way), and
            // once: setenv is not safe against native getenv calls on other threads, so it is kept to one call
            // before PortAudio first starts its backends.
            if (!s_jackAsked)
            {
                s_jackAsked = true;
                _ = setenv("JACK_NO_START_SERVER", "1", overwrite: 0);
            }
            if (show)
            {
                return new Scope(-1, holdsGate: true);
            }
            // .NET opens its stderr writer on a duplicate of descriptor 2 when first used; opened now, it keeps
            // pointing at the terminal, so the program's own messages are never the ones dropped.
            _ = Console.Error;
            var saved = dup(StandardError);
            if (saved < 0)
            {
                // Without a way back, losing stderr for good would be worse than the chatter.
                return new Scope(-1, holdsGate: true);
            }
            using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
            if (dup2((int)devNull.DangerousGetHandle(), StandardError) < 0)
            {
                _ = close(saved);
                return new Scope(-1, holdsGate: true);
            }
            return new Scope(saved, holdsGate: true);
        }
        catch
        {
            Gate.Exit();
            throw;
        }
    }

    private sealed class Scope(int saved, bool holdsGate) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            if (saved >= 0)
            {
                _ = dup2(saved, StandardError);
                _ = close(saved);
            }
            if (holdsGate)
            {
                Gate.Exit();
            }
        }
    }

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int dup(int fd);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int dup2(int oldFd, int newFd);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport(Libc, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int setenv(string name, string value, int overwrite);
}
