namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Runs live streams' own work (taking their audio, resampling, VAD, windowing) on a few dedicated threads, the
/// oldest stream's work first. On the shared thread pool every stream's next step waited in one first-in-first-out
/// queue, behind every other stream's and behind the server's own I/O: past capacity all streams were then equally
/// late, each was shed in fragments too short for a window, and gRPC reads and writes queued behind VAD work.
/// Here, when the CPU falls short, the streams opened last wait (and are shed, and counted) while the established
/// ones stay in real time, and the thread pool keeps only short I/O work.
/// </summary>
/// <remarks>
/// Each stream gets a <see cref="Lane"/>, a <see cref="TaskScheduler"/> with the stream's seniority: work started
/// on it, and every continuation of its awaits (they capture <see cref="TaskScheduler.Current"/>), is queued here.
/// Among queued items the lowest seniority (the oldest stream) runs first; equal ones in queue order.
/// </remarks>
public sealed class SeniorityScheduler : IDisposable
{
    private readonly PriorityQueue<(Lane Lane, Task Task), (long Seniority, long Order)> _queue = new();
    private readonly object _gate = new();
    private readonly Thread[] _threads;
    private long _order;
    private long _nextSeniority;
    private bool _stopping;

    [ThreadStatic]
    private static SeniorityScheduler? _running;

    /// <param name="threads">Worker threads; 0: one per core.</param>
    /// <param name="name">Names the threads (debuggers, dumps).</param>
    public SeniorityScheduler(int threads = 0, string name = "ser-stream")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        _threads = new Thread[threads == 0 ? Environment.ProcessorCount : threads];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"{name}-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Worker threads.</summary>
    public int Threads => _threads.Length;

    /// <summary>Items waiting for a thread now.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>A lane for a new stream: junior to every lane made before it.</summary>
    public Lane NewLane() => new(this, Interlocked.Increment(ref _nextSeniority));

    /// <summary>Starts <paramref name="work"/> on <paramref name="lane"/>; its continuations stay there.</summary>
    public static Task Run(Lane lane, Func<Task> work) =>
        Task
            .Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, lane)
            .Unwrap();

    private void Enqueue(Lane lane, Task task)
    {
        lock (_gate)
        {
            if (_stopping)
            {
                // Disposed with work still coming (a stream torn down with its engine): run it on the thread pool
                // rather than lose it, so that whoever awaits it is not left waiting forever.
                ThreadPool.UnsafeQueueUserWorkItem(
                    static s => s.Lane.Execute(s.Task),
                    (Lane: lane, Task: task),
                    preferLocal: false
                );
                return;
            }
            _queue.Enqueue((lane, task), (lane.Seniority, _order++));
            Monitor.Pulse(_gate);
        }
    }

    private void Work()
    {
        _running = this;
        while (true)
        {
            (Lane Lane, Task Task) item;
            lock (_gate)
            {
                while (_queue.Count == 0)
                {
                    if (_stopping)
                    {
                        return;
                    }
                    Monitor.Wait(_gate);
                }
                item = _queue.Dequeue();
            }
            // A task's own exception is kept in the task for its awaiter; nothing escapes to this thread.
            item.Lane.Execute(item.Task);
        }
    }

    /// <summary>Lets the threads finish what is queued, then stop; later work runs on the thread pool.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        foreach (var thread in _threads)
        {
            if (thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }
    }

    /// <summary>One stream's place in the <see cref="SeniorityScheduler"/>.</summary>
    public sealed class Lane : TaskScheduler
    {
        private readonly SeniorityScheduler _owner;

        internal Lane(SeniorityScheduler owner, long seniority)
        {
            _owner = owner;
            Seniority = seniority;
        }

        /// <summary>Lower runs first: the order in which the lanes were made.</summary>
        public long Seniority { get; }

        public override int MaximumConcurrencyLevel => _owner.Threads;

        internal void Execute(Task task) => TryExecuteTask(task);

        protected override void QueueTask(Task task) => _owner.Enqueue(this, task);

        // Inline only on the scheduler's own threads: elsewhere (a thread-pool thread completing a VAD batch, say)
        // the stream's work would escape its seniority.
        protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
            !taskWasPreviouslyQueued && _running == _owner && TryExecuteTask(task);

        // Only debuggers ask; the queue is shared by all lanes, so none is listed.
        protected override IEnumerable<Task> GetScheduledTasks() => [];
    }
}
