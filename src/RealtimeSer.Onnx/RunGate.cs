namespace RealtimeSer.Onnx;

/// <summary>
/// Counts runs in flight so that Dispose never frees a session ORT is still running: the native release
/// happens when the last run leaves, and runs that start after Dispose throw ObjectDisposedException.
/// The package's InferenceSession has no such guard (its Dispose during a Run is a use-after-free).
/// </summary>
internal sealed class RunGate(Action release)
{
    private const int Disposed = 1 << 30;
    private int _state; // runs in flight, plus the Disposed bit

    public bool IsDisposed => (Volatile.Read(ref _state) & Disposed) != 0;

    /// <summary>Enters a run; throws when the owner was disposed.</summary>
    public void Enter(object owner)
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            ObjectDisposedException.ThrowIf((state & Disposed) != 0, owner);
            if (Interlocked.CompareExchange(ref _state, state + 1, state) == state)
            {
                return;
            }
        }
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _state) == Disposed)
        {
            release();
        }
    }

    /// <summary>Marks the owner disposed; releases now when no run is in flight, else when the last one exits.</summary>
    public void Dispose()
    {
        var before = Interlocked.Or(ref _state, Disposed);
        if (before == 0)
        {
            release();
        }
    }
}
