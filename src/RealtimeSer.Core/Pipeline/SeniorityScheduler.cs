namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Runs live streams' own work (taking their audio, resampling, VAD, windowing) oldest stream first, on a few
/// dedicated threads that the thread pool helps when they fall behind. On the plain thread pool every stream's
/// next step waited in one first-in-first-out queue, behind every other stream's and behind the server's own
/// I/O: past capacity all streams were then equally late, each was shed in fragments too short for a window, and
/// gRPC reads and writes queued behind VAD work. Here, when the CPU falls short, the streams opened last wait
/// (and are shed, and counted) while the established ones stay in real time.
/// </summary>
/// <remarks>
/// Each stream gets a <see cref="Lane"/>, a <see cref="TaskScheduler"/> with the stream's seniority: work started
/// on it, and every continuation of its awaits (they capture <see cref="TaskScheduler.Current"/>), is queued here.
/// Among queued items the lowest seniority (the oldest stream) runs first; equal ones in queue order.
/// Dedicated threads alone get only those threads' share of the CPU when the rest of the process is busy, and
/// the thread pool alone (one pool item per queued step) puts every step in the queue the server's I/O waits in.
/// So: the dedicated threads take items as long as they keep up; while more items wait than they can take at
/// once, at most <see cref="MaxHelpers"/> pool work items also run the most senior one, each one item and then
/// back to the end of the pool's queue. The pool's queue never holds more than that many of these items,
/// so I/O never waits behind a backlog of stream work, and the stream work keeps a share of the pool's threads.
/// </remarks>
public sealed class SeniorityScheduler : IDisposable
{
    private readonly PriorityQueue<(Lane Lane, Task Task), (long Seniority, long Order)> _queue = new();
    private readonly object _gate = new();
    private readonly Thread[] _threads;
    private readonly Action<Action> _dispatch;
    private int _idle;
    private int _helpers;
    private long _order;
    private long _nextSeniority;
    private long _helped;
    private bool _stopping;

    [ThreadStatic]
    private static SeniorityScheduler? _running;

    /// <param name="threads">Dedicated threads; 0: one per core.</param>
    /// <param name="maxHelpers">Pool work items that may help at once; -1: half the cores, at least one.</param>
    /// <param name="name">Names the threads (debuggers, dumps).</param>
    public SeniorityScheduler(int threads = 0, int maxHelpers = -1, string name = "ser-stream")
        : this(
            threads,
            maxHelpers,
            name,
            run => ThreadPool.UnsafeQueueUserWorkItem(static r => r(), run, preferLocal: false)
        ) { }

    /// <param name="dispatch">Hands a "run the most senior item" callback to the pool (tests hold them back).</param>
    internal SeniorityScheduler(int threads, int maxHelpers, string name, Action<Action> dispatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHelpers, -1);
        _dispatch = dispatch;
        MaxHelpers = maxHelpers == -1 ? Math.Max(1, Environment.ProcessorCount / 2) : maxHelpers;
        _threads = new Thread[threads == 0 ? Environment.ProcessorCount : threads];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"{name}-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Dedicated threads.</summary>
    public int Threads => _threads.Length;

    /// <summary>Pool work items that may help the threads at once.</summary>
    public int MaxHelpers { get; }

    /// <summary>Items a pool thread ran because the dedicated threads were behind.</summary>
    public long Helped => Interlocked.Read(ref _helped);

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
        var help = false;
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
            if (_idle > 0)
            {
                Monitor.Pulse(_gate);
            }
            else if (_queue.Count > _threads.Length && _helpers < MaxHelpers)
            {
                // Every thread is busy and more waits than they can take next: the threads are behind.
                _helpers++;
                help = true;
            }
        }
        if (help)
        {
            _dispatch(Help);
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
                    _idle++;
                    Monitor.Wait(_gate);
                    _idle--;
                }
                item = _queue.Dequeue();
            }
            // A task's own exception is kept in the task for its awaiter; nothing escapes to this thread.
            item.Lane.Execute(item.Task);
        }
    }

    // A pool work item: runs the most senior waiting item, then, while the threads are still behind, hands the
    // next one to a fresh pool item (the end of the pool's queue) rather than keep this thread.
    private void Help()
    {
        (Lane Lane, Task Task) item;
        lock (_gate)
        {
            if (!_queue.TryDequeue(out item, out _))
            {
                _helpers--;
                return;
            }
        }
        Interlocked.Increment(ref _helped);
        var outer = _running;
        _running = this;
        try
        {
            item.Lane.Execute(item.Task);
        }
        finally
        {
            _running = outer;
        }
        bool again;
        lock (_gate)
        {
            again = !_stopping && _idle == 0 && _queue.Count > _threads.Length;
            if (!again)
            {
                _helpers--;
            }
        }
        if (again)
        {
            _dispatch(Help);
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

        public override int MaximumConcurrencyLevel => _owner.Threads + _owner.MaxHelpers;

        internal void Execute(Task task) => TryExecuteTask(task);

        protected override void QueueTask(Task task) => _owner.Enqueue(this, task);

        // Inline only while running this scheduler's work: elsewhere (a batch thread completing a VAD frame, say)
        // the stream's work would jump the seniority order.
        protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
            !taskWasPreviouslyQueued && _running == _owner && TryExecuteTask(task);

        // Only debuggers ask; the queue is shared by all lanes, so none is listed.
        protected override IEnumerable<Task> GetScheduledTasks() => [];
    }
}
