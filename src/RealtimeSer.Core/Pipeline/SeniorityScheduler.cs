namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// Orders live streams' own work (taking their audio, resampling, VAD, windowing) by seniority: whenever a
/// thread-pool thread takes up a step of stream work, it runs the oldest stream's waiting step, whichever
/// stream's step made it queue. On the plain thread pool every stream's next step waited in one first-in-first-out
/// queue: past capacity all streams were equally late, each was shed in fragments too short for a window. Here,
/// when the CPU falls short, the streams opened last wait (and are shed, and counted) while the established ones
/// stay in real time.
/// </summary>
/// <remarks>
/// Each stream gets a <see cref="Lane"/>, a <see cref="TaskScheduler"/> with the stream's seniority: work started
/// on it, and every continuation of its awaits (they capture <see cref="TaskScheduler.Current"/>), is queued here.
/// Every queued item also queues one thread-pool work item, which runs the most senior item queued at that moment.
/// The work stays on the thread pool, with the pool's share of the CPU: an earlier version on a few dedicated
/// threads lost that share to the rest of the process's work (docs/benchmarks.md).
/// </remarks>
public sealed class SeniorityScheduler
{
    private readonly PriorityQueue<(Lane Lane, Task Task), (long Seniority, long Order)> _queue = new();
    private readonly object _gate = new();
    private readonly Action<Action> _dispatch;
    private long _order;
    private long _nextSeniority;

    public SeniorityScheduler()
        : this(run => ThreadPool.UnsafeQueueUserWorkItem(static r => r(), run, preferLocal: false)) { }

    /// <param name="dispatch">Hands a "run the most senior item" callback to threads (tests hold them back).</param>
    internal SeniorityScheduler(Action<Action> dispatch) => _dispatch = dispatch;

    [ThreadStatic]
    private static SeniorityScheduler? _running;

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
            _queue.Enqueue((lane, task), (lane.Seniority, _order++));
        }
        _dispatch(RunMostSenior);
    }

    // One per queued item, so every item runs; each runs whichever item is most senior when it gets a thread.
    private void RunMostSenior()
    {
        (Lane Lane, Task Task) item;
        lock (_gate)
        {
            if (!_queue.TryDequeue(out item, out _))
            {
                return; // its item ran inline or under an earlier work item
            }
        }
        var outer = _running;
        _running = this;
        try
        {
            // A task's own exception is kept in the task for its awaiter; nothing escapes to this thread.
            item.Lane.Execute(item.Task);
        }
        finally
        {
            _running = outer;
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

        internal void Execute(Task task) => TryExecuteTask(task);

        protected override void QueueTask(Task task) => _owner.Enqueue(this, task);

        // Inline only while running this scheduler's work: elsewhere (a thread-pool thread completing a VAD batch,
        // say) the stream's work would jump the seniority order.
        protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
            !taskWasPreviouslyQueued && _running == _owner && TryExecuteTask(task);

        // Only debuggers ask; the queue is shared by all lanes, so none is listed.
        protected override IEnumerable<Task> GetScheduledTasks() => [];
    }
}
