using LuoModel.Kernel;

namespace LuoModel.Testkit.Concurrency;

/// <summary>Chooses which task runs at each scheduling point of a <see cref="DeterministicScheduler"/>.</summary>
public interface IScheduleStrategy
{
    /// <summary>A schedule with <paramref name="tasks"/> tasks starts.</summary>
    void BeginSchedule(int tasks);

    /// <summary>Picks one of <paramref name="runnable"/> (task ids; the running task first when it may go on).
    /// <paramref name="current"/> is the running task, or -1 when it cannot continue (blocked, finished, start).</summary>
    int Choose(IReadOnlyList<int> runnable, int current);

    /// <summary>The schedule ended; false when the strategy has nothing left to explore.</summary>
    bool EndSchedule();
}

/// <summary>
/// Exhaustive depth-first exploration of every schedule, bounded by the number of preemptions (switching away
/// from a task that could have gone on; CHESS-style): a schedule is the sequence of choices, and after each run
/// the last choice point with an untried option is advanced. With a bound of k every interleaving that needs at
/// most k preemptions is run exactly once.
/// </summary>
public sealed class BoundedDfsStrategy : IScheduleStrategy
{
    private readonly List<(int Choice, int Count, int Preemptions)> _stack = [];
    private readonly int _maxPreemptions;
    private int _pos;
    private int _preemptions;

    /// <summary>Explores every schedule with at most <paramref name="maxPreemptions"/> preemptions.</summary>
    public BoundedDfsStrategy(int maxPreemptions) => _maxPreemptions = maxPreemptions;

    /// <inheritdoc/>
    public void BeginSchedule(int tasks)
    {
        _pos = 0;
        _preemptions = 0;
    }

    /// <inheritdoc/>
    public int Choose(IReadOnlyList<int> runnable, int current)
    {
        bool canContinue = current >= 0 && runnable.Count > 0 && runnable[0] == current;
        int options = canContinue && _preemptions >= _maxPreemptions ? 1 : runnable.Count;
        int choice;
        if (_pos < _stack.Count)
        {
            var (c, n, _) = _stack[_pos];
            if (n != options) throw new InvalidOperationException($"nondeterministic replay at choice {_pos}: {options} options, recorded {n}");
            choice = c;
        }
        else
        {
            _stack.Add((0, options, _preemptions));
            choice = 0;
        }
        _pos++;
        if (canContinue && choice != 0) _preemptions++;
        return runnable[choice];
    }

    /// <inheritdoc/>
    public bool EndSchedule()
    {
        _stack.RemoveRange(_pos, _stack.Count - _pos);
        while (_stack.Count > 0)
        {
            var (c, n, p) = _stack[^1];
            if (c + 1 < n)
            {
                _stack[^1] = (c + 1, n, p);
                return true;
            }
            _stack.RemoveAt(_stack.Count - 1);
        }
        return false;
    }
}

/// <summary>
/// PCT (probabilistic concurrency testing, Burckhardt et al. 2010): random distinct task priorities, the
/// highest-priority runnable task runs, and at <c>depth − 1</c> random steps the running task drops to the lowest
/// priority. Finds any bug of depth d with probability ≥ 1/(n·k^(d−1)) per schedule. Seeded: schedule i of a
/// strategy always makes the same choices.
/// </summary>
public sealed class PctStrategy : IScheduleStrategy
{
    private readonly int _seed, _depth, _maxSteps, _schedules;
    private int _run;
    private Random _rng = new(0);
    private int[] _priority = [];
    private readonly HashSet<int> _changePoints = [];
    private int _step;
    private int _low;

    /// <summary>Runs <paramref name="schedules"/> schedules; <paramref name="maxSteps"/> bounds where the
    /// priority change points fall.</summary>
    public PctStrategy(int seed, int depth, int maxSteps, int schedules)
    {
        _seed = seed;
        _depth = depth;
        _maxSteps = maxSteps;
        _schedules = schedules;
    }

    /// <inheritdoc/>
    public void BeginSchedule(int tasks)
    {
        _rng = new Random(unchecked((_seed * 7919) + _run));
        _priority = [.. Enumerable.Range(0, tasks).Select(i => _depth + i).OrderBy(_ => _rng.Next())];
        _changePoints.Clear();
        for (int i = 0; i < _depth - 1; i++) _changePoints.Add(_rng.Next(1, _maxSteps + 1));
        _step = 0;
        _low = _depth - 1;
    }

    /// <inheritdoc/>
    public int Choose(IReadOnlyList<int> runnable, int current)
    {
        _step++;
        if (current >= 0 && _changePoints.Contains(_step) && _low >= 0) _priority[current] = _low--;
        int best = runnable[0];
        foreach (int t in runnable)
            if (_priority[t] > _priority[best]) best = t;
        return best;
    }

    /// <inheritdoc/>
    public bool EndSchedule() => ++_run < _schedules;
}

/// <summary>Uniformly random choice at every scheduling point (seeded).</summary>
public sealed class RandomStrategy : IScheduleStrategy
{
    private readonly int _seed, _schedules;
    private int _run;
    private Random _rng = new(0);

    /// <summary>Runs <paramref name="schedules"/> schedules.</summary>
    public RandomStrategy(int seed, int schedules)
    {
        _seed = seed;
        _schedules = schedules;
    }

    /// <inheritdoc/>
    public void BeginSchedule(int tasks) => _rng = new Random(unchecked((_seed * 104729) + _run));

    /// <inheritdoc/>
    public int Choose(IReadOnlyList<int> runnable, int current) => runnable[_rng.Next(runnable.Count)];

    /// <inheritdoc/>
    public bool EndSchedule() => ++_run < _schedules;
}

/// <summary>How one schedule ended.</summary>
/// <param name="Choices">The task chosen at every scheduling point (identifies the schedule).</param>
/// <param name="Failure">Null, or why the schedule was abandoned: a deadlock (every live task blocked), the step
/// bound (livelock), the wall-clock bound (a task blocked outside the scheduler), or a task's exception.</param>
public sealed record ScheduleOutcome(IReadOnlyList<int> Choices, string? Failure)
{
    /// <summary>A key equal for equal schedules.</summary>
    public string Key => string.Join(',', Choices);
}

/// <summary>
/// A deterministic scheduler for the model's kernel locks (Microsoft.Coyote ships no net10.0 build): every task
/// is a real thread, but exactly one runs at a time; the others wait for the baton. The locks of
/// <see cref="LuoModel.Kernel"/> call <see cref="IKernelScheduler"/> at each acquisition (a scheduling point),
/// on contention (the task blocks until the holder releases) and on release. The strategy picks the next task
/// at each point, so a schedule is replayable from its choices, and a deadlock is detected (no runnable task)
/// instead of hanging.
/// </summary>
public sealed class DeterministicScheduler : IKernelScheduler
{
    private sealed class TaskState(int id)
    {
        public int Id { get; } = id;
        public SemaphoreSlim Go { get; } = new(0, 1);
        public bool Done { get; set; }
        public object? BlockedOn { get; set; }
    }

    private sealed class AbortedException : Exception;

    private readonly IScheduleStrategy _strategy;
    private readonly int _maxSteps;
    private readonly object _gate = new();
    private readonly List<int> _choices = [];
    private readonly List<int> _runnable = [];
    private TaskState[] _tasks = [];
    private TaskState? _current;
    private SemaphoreSlim _finished = new(0, 1);
    private volatile bool _aborted;
    private string? _failure;
    private int _steps;

    /// <summary>A scheduler driven by <paramref name="strategy"/>; a schedule with more than
    /// <paramref name="maxSteps"/> scheduling points is abandoned as a livelock.</summary>
    public DeterministicScheduler(IScheduleStrategy strategy, int maxSteps = 10_000)
    {
        _strategy = strategy;
        _maxSteps = maxSteps;
    }

    /// <summary>Runs <paramref name="bodies"/> as concurrent tasks under the strategy; returns when all ended
    /// (or the schedule was abandoned: see <see cref="ScheduleOutcome.Failure"/>).</summary>
    public ScheduleOutcome Run(IReadOnlyList<Action> bodies, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        _choices.Clear();
        _aborted = false;
        _failure = null;
        _steps = 0;
        _finished = new SemaphoreSlim(0, 1);
        _tasks = [.. bodies.Select((_, i) => new TaskState(i))];
        _strategy.BeginSchedule(bodies.Count);
        var threads = new Thread[bodies.Count];
        for (int i = 0; i < bodies.Count; i++)
        {
            var t = _tasks[i];
            var body = bodies[i];
            threads[i] = new Thread(() => TaskMain(t, body)) { IsBackground = true, Name = $"sched-task-{i}" };
            threads[i].Start();
        }
        if (bodies.Count == 0) return new ScheduleOutcome([], null);
        lock (_gate)
        {
            var first = Pick(null);
            _current = first;
            first!.Go.Release();
        }
        if (!_finished.Wait(timeout))
        {
            Abort($"timeout after {timeout.TotalSeconds:0.#} s (a task blocked outside the scheduler?)");
            _finished.Wait(TimeSpan.FromSeconds(5));
        }
        foreach (var th in threads) th.Join(TimeSpan.FromSeconds(5));
        return new ScheduleOutcome([.. _choices], _failure);
    }

    private void TaskMain(TaskState t, Action body)
    {
        KernelScheduler.Current = this;
        t.Go.Wait();
        try
        {
            if (!_aborted) body();
        }
        catch (AbortedException) { }
        catch (Exception e) { Abort($"task {t.Id} threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}"); }
        finally
        {
            KernelScheduler.Current = null;
            Exit(t);
        }
    }

    private void Exit(TaskState t)
    {
        TaskState? next;
        lock (_gate)
        {
            t.Done = true;
            if (_tasks.All(x => x.Done))
            {
                _finished.Release();
                return;
            }
            if (_aborted) return;
            next = Pick(null);
            if (next is null)
            {
                AbortLocked("deadlock: " + string.Join(", ", _tasks.Where(x => !x.Done).Select(x => $"task {x.Id} blocked on {x.BlockedOn}")));
                return;
            }
            _current = next;
        }
        next.Go.Release();
    }

    private TaskState? Pick(TaskState? running)
    {
        _runnable.Clear();
        if (running is not null && running.BlockedOn is null && !running.Done) _runnable.Add(running.Id);
        foreach (var x in _tasks)
            if (!x.Done && x.BlockedOn is null && x != running) _runnable.Add(x.Id);
        if (_runnable.Count == 0) return null;
        int c = _runnable.Count == 1 ? _runnable[0] : _strategy.Choose(_runnable, running is not null && _runnable[0] == running.Id ? running.Id : -1);
        if (_runnable.Count > 1) _choices.Add(c);
        return _tasks[c];
    }

    private TaskState Me()
    {
        var me = _current;
        if (me is null || _aborted) throw new AbortedException();
        return me;
    }

    private void SwitchFrom(TaskState me, TaskState next)
    {
        if (next == me) return;
        _current = next;
        next.Go.Release();
        me.Go.Wait();
        if (_aborted) throw new AbortedException();
    }

    /// <inheritdoc/>
    public void YieldPoint(object resource)
    {
        TaskState me, next;
        lock (_gate)
        {
            me = Me();
            if (++_steps > _maxSteps)
            {
                AbortLocked($"step bound {_maxSteps} exceeded (livelock?)");
                throw new AbortedException();
            }
            next = Pick(me)!;
        }
        SwitchFrom(me, next);
    }

    /// <inheritdoc/>
    public void Block(object resource)
    {
        TaskState me, next;
        lock (_gate)
        {
            me = Me();
            me.BlockedOn = resource;
            var n = Pick(null);
            if (n is null)
            {
                AbortLocked("deadlock: " + string.Join(", ", _tasks.Where(x => !x.Done).Select(x => $"task {x.Id} blocked on {x.BlockedOn}")));
                throw new AbortedException();
            }
            next = n;
        }
        SwitchFrom(me, next);
    }

    /// <inheritdoc/>
    public void Wake(object resource)
    {
        if (_aborted) return;
        lock (_gate)
            foreach (var x in _tasks)
                if (ReferenceEquals(x.BlockedOn, resource)) x.BlockedOn = null;
    }

    private void Abort(string why)
    {
        lock (_gate) AbortLocked(why);
    }

    private void AbortLocked(string why)
    {
        _failure ??= why;
        if (_aborted) return;
        _aborted = true;
        foreach (var x in _tasks)
            if (!x.Done && x != _current) x.Go.Release();
        if (_current is { Done: false } c && c.Go.CurrentCount == 0 && c.BlockedOn is not null) c.Go.Release();
    }
}
