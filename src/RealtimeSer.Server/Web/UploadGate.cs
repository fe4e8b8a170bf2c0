namespace RealtimeSer.Server;

/// <summary>
/// At most a fixed number of uploads analysed at once and a bounded queue behind them. Decoding and analysing a
/// recording runs as fast as the CPU allows; without a bound, a few large uploads take the cores and threads
/// that the pages, /metrics and live streams need.
/// </summary>
internal sealed class UploadGate(int concurrent, int queued)
{
    private readonly SemaphoreSlim _turns = new(concurrent, concurrent);
    private int _inside;

    public int Running => concurrent - _turns.CurrentCount;

    public int Waiting => Math.Max(0, Volatile.Read(ref _inside) - Running);

    /// <summary>A place in the queue, or null when the queue is full.</summary>
    public Turn? Enter()
    {
        if (Interlocked.Increment(ref _inside) > concurrent + queued)
        {
            Interlocked.Decrement(ref _inside);
            return null;
        }
        return new Turn(this);
    }

    internal sealed class Turn(UploadGate gate) : IDisposable
    {
        private bool _holding;
        private int _disposed;

        /// <summary>Waits until this upload may be analysed.</summary>
        public async Task WaitAsync(CancellationToken token)
        {
            await gate._turns.WaitAsync(token);
            _holding = true;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            if (_holding)
            {
                gate._turns.Release();
            }
            Interlocked.Decrement(ref gate._inside);
        }
    }
}
