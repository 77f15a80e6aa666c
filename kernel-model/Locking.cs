namespace LuoModel.Kernel;

/// <summary>
/// Model-only hook for a deterministic scheduler (testkit/Concurrency): every kernel lock of the model calls it
/// before an acquisition (a point where another task may run), when an acquisition cannot proceed, and after a
/// release. Installed per thread through <see cref="KernelScheduler.Current"/>; null in normal use, where the
/// locks block on the operating system's primitives instead. No kernel counterpart.
/// </summary>
public interface IKernelScheduler
{
    /// <summary>The current task is about to take <paramref name="resource"/> (a lock or an atomic): another
    /// task may be scheduled first.</summary>
    void YieldPoint(object resource);

    /// <summary>The current task cannot take <paramref name="resource"/>: run other tasks until
    /// <see cref="Wake"/> is called for it, then return so the caller retries.</summary>
    void Block(object resource);

    /// <summary><paramref name="resource"/> was released or changed state: tasks blocked on it may retry.</summary>
    void Wake(object resource);
}

/// <summary>The scheduler hook of the calling thread (model-only).</summary>
public static class KernelScheduler
{
    [ThreadStatic] private static IKernelScheduler? t_current;
    private static int s_installed; // threads with a scheduler: while 0, lock paths skip the thread-local lookup

    /// <summary>Model-only: how many threads have a scheduler installed (the count the fast path reads).</summary>
    internal static int InstalledThreads => Volatile.Read(ref s_installed);

    /// <summary>The calling thread's scheduler, or null (free-running threads).</summary>
    public static IKernelScheduler? Current
    {
        get => Volatile.Read(ref s_installed) == 0 ? null : t_current;
        set
        {
            var old = t_current;
            t_current = value;
            if (old is null && value is not null) Interlocked.Increment(ref s_installed);
            else if (old is not null && value is null) Interlocked.Decrement(ref s_installed);
        }
    }
}

/// <summary>
/// A sleeping kernel lock (struct mutex, or a rw_semaphore whose readers the model does not let run side by
/// side). Reentrant on the same thread (the kernel's are not; the model never relies on it). With a
/// <see cref="KernelScheduler"/> installed, acquisition is a scheduling point.
/// </summary>
public class KernelMutex
{
    // The lock is this object's own monitor: a thin lock in the object header, so a mutex is one host object, and
    // a kernel struct that embeds its mutex can derive from this class (LuoFile does) and be none extra.
    private readonly bool _ticketed;
    private long _tickets;
    private int _depth; // recursion depth, only touched by the holder
    [ThreadStatic] private static long t_lastTicket;
    [ThreadStatic] private static long t_windowFirst;

    /// <summary>Model-only: starts a ticket window on this thread (see <see cref="FirstTicketInWindow"/>).</summary>
    public static void StartTicketWindow() => t_windowFirst = 0;

    /// <summary>Model-only: the first ticket this thread took since <see cref="StartTicketWindow"/> (0 = none).</summary>
    public static long FirstTicketInWindow => t_windowFirst;

    /// <summary>Creates a lock named after its kernel symbol. A <paramref name="ticketed"/> lock numbers its
    /// outermost acquisitions (model-only, for linearisation checks: see <see cref="LastTicketOnThisThread"/>).</summary>
    public KernelMutex(string name, bool ticketed = false)
    {
        Name = name;
        _ticketed = ticketed;
    }

    /// <summary>Model-only: the number of the last outermost acquisition of a ticketed lock by this thread
    /// (1, 2, … per lock in acquisition order; 0 = none yet).</summary>
    public static long LastTicketOnThisThread => t_lastTicket;

    /// <summary>The kernel symbol (for traces and the scheduler's log).</summary>
    public string Name { get; }

    /// <summary>True when the calling thread holds the lock.</summary>
    public bool IsHeldByCurrentThread => Monitor.IsEntered(this);

    /// <summary>mutex_lock().</summary>
    public void Enter()
    {
        var s = KernelScheduler.Current;
        if (s is null) Monitor.Enter(this);
        else
        {
            s.YieldPoint(this);
            while (!Monitor.TryEnter(this)) s.Block(this);
        }
        if (_depth++ == 0 && _ticketed)
        {
            t_lastTicket = ++_tickets;
            if (t_windowFirst == 0) t_windowFirst = t_lastTicket;
        }
    }

    /// <summary>mutex_unlock().</summary>
    public void Exit()
    {
        _depth--;
        Monitor.Exit(this);
        KernelScheduler.Current?.Wake(this);
    }

    /// <summary>guard(mutex): takes the lock until the scope is disposed.</summary>
    public Scope Hold()
    {
        Enter();
        return new Scope(this);
    }

    /// <summary>A held <see cref="KernelMutex"/>; disposing releases it.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly KernelMutex _m;
        internal Scope(KernelMutex m) => _m = m;
        /// <summary>Releases the lock.</summary>
        public void Dispose() => _m.Exit();
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// A kernel rw_semaphore with the one extra state LUO gives serialize_lock (luo.md §2.1, §4.2 step 5): a writer
/// may <see cref="Freeze"/> it, keeping it held forever. Every later <see cref="EnterShared"/> or
/// <see cref="EnterExclusive"/> — and every one already waiting — returns false instead of blocking forever, so
/// the model reports <c>Errno.Frozen</c>. Writers are preferred over newly arriving readers, like the kernel's
/// rwsem hand-off (a steady stream of session ioctls cannot starve reboot).
/// </summary>
public sealed class KernelRwSem
{
    private readonly object _gate = new();
    private int _readers;
    private bool _writer;
    private int _writersWaiting;
    private int _waiting; // threads in Monitor.Wait on _gate: releases pulse only when someone waits
    private volatile bool _frozen;
    private long _tickets;
    [ThreadStatic] private static long t_lastTicket;

    /// <summary>Creates a lock named after its kernel symbol.</summary>
    public KernelRwSem(string name) => Name = name;

    /// <summary>Model-only: the number of the last acquisition (shared or exclusive) of any rw_semaphore by this
    /// thread, counted per lock in acquisition order (0 = none yet). A reader whose ticket is below the
    /// freezing writer's entered before it.</summary>
    public static long LastTicketOnThisThread => t_lastTicket;

    /// <summary>The kernel symbol.</summary>
    public string Name { get; }

    /// <summary>True once a writer froze the lock (held exclusively forever).</summary>
    public bool IsFrozen => _frozen;

    /// <summary>down_read(); false when the lock is (or becomes, while waiting) frozen.</summary>
    public bool EnterShared()
    {
        var s = KernelScheduler.Current;
        if (s is not null)
        {
            s.YieldPoint(this);
            while (true)
            {
                lock (_gate)
                {
                    if (_frozen) return false;
                    if (!_writer) { _readers++; t_lastTicket = ++_tickets; return true; }
                }
                s.Block(this);
            }
        }
        lock (_gate)
        {
            while (true)
            {
                if (_frozen) return false;
                if (!_writer && _writersWaiting == 0) { _readers++; t_lastTicket = ++_tickets; return true; }
                Wait();
            }
        }
    }

    /// <summary>up_read().</summary>
    public void ExitShared()
    {
        lock (_gate)
        {
            if (_readers <= 0) throw new InvalidOperationException($"{Name}: up_read without down_read");
            if (--_readers == 0 && _waiting > 0) Monitor.PulseAll(_gate);
        }
        KernelScheduler.Current?.Wake(this);
    }

    /// <summary>down_write(); false when the lock is (or becomes, while waiting) frozen.</summary>
    public bool EnterExclusive()
    {
        var s = KernelScheduler.Current;
        if (s is not null)
        {
            s.YieldPoint(this);
            while (true)
            {
                lock (_gate)
                {
                    if (_frozen) return false;
                    if (!_writer && _readers == 0) { _writer = true; t_lastTicket = ++_tickets; return true; }
                }
                s.Block(this);
            }
        }
        lock (_gate)
        {
            _writersWaiting++;
            try
            {
                while (true)
                {
                    if (_frozen) return false;
                    if (!_writer && _readers == 0) { _writer = true; t_lastTicket = ++_tickets; return true; }
                    Wait();
                }
            }
            finally { _writersWaiting--; }
        }
    }

    /// <summary>up_write().</summary>
    public void ExitExclusive()
    {
        lock (_gate)
        {
            if (!_writer || _frozen) throw new InvalidOperationException($"{Name}: up_write without down_write");
            _writer = false;
            if (_waiting > 0) Monitor.PulseAll(_gate);
        }
        KernelScheduler.Current?.Wake(this);
    }

    private void Wait() // under _gate
    {
        _waiting++;
        try { Monitor.Wait(_gate); }
        finally { _waiting--; }
    }

    /// <summary>The writer keeps the lock forever (luo.md §4.2 step 5): waiters give up.</summary>
    public void Freeze()
    {
        lock (_gate)
        {
            if (!_writer) throw new InvalidOperationException($"{Name}: freeze without down_write");
            _frozen = true;
            Monitor.PulseAll(_gate);
        }
        KernelScheduler.Current?.Wake(this);
    }

    /// <summary>Model-only (benchmark thaw): drops a frozen writer as if it had never frozen.</summary>
    internal void Thaw()
    {
        lock (_gate)
        {
            _frozen = false;
            _writer = false;
            Monitor.PulseAll(_gate);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
