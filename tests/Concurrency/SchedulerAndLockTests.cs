using LuoModel.Kernel;
using LuoModel.Testkit.Concurrency;

namespace LuoModel.Tests.Concurrency;

/// <summary>
/// The building blocks: the frozen rw_semaphore semantics of serialize_lock (luo.md §4.2 step 5) with free-running
/// threads, and the deterministic scheduler's ability to find what it is for (a lost update, a lock-order
/// deadlock) and to enumerate schedules exhaustively.
/// </summary>
public class SchedulerAndLockTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_reader_waiting_on_the_writer_gets_false_when_the_writer_freezes()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterExclusive());
        bool? got = null;
        var reader = new Thread(() => got = sem.EnterShared());
        reader.Start();
        Thread.Sleep(50);
        Assert.Null(got); // blocked behind the writer
        sem.Freeze();
        Assert.True(reader.Join(Bound), "reader still blocked after the freeze");
        Assert.False(got);
        Assert.True(sem.IsFrozen);
        Assert.False(sem.EnterShared());
        Assert.False(sem.EnterExclusive());
    }

    [Fact]
    public void A_reader_waiting_on_the_writer_proceeds_when_the_writer_releases()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterExclusive());
        bool? got = null;
        var reader = new Thread(() =>
        {
            got = sem.EnterShared();
            if (got == true) sem.ExitShared();
        });
        reader.Start();
        Thread.Sleep(50);
        Assert.Null(got);
        sem.ExitExclusive();
        Assert.True(reader.Join(Bound));
        Assert.True(got);
    }

    [Fact]
    public void A_writer_waits_for_every_reader_and_new_readers_queue_behind_it()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterShared());
        bool writerIn = false;
        var writer = new Thread(() => { writerIn = sem.EnterExclusive(); });
        writer.Start();
        Thread.Sleep(50);
        Assert.False(writerIn);
        bool? lateReader = null;
        var reader = new Thread(() => { lateReader = sem.EnterShared(); });
        reader.Start();
        Thread.Sleep(50);
        Assert.Null(lateReader); // writer preference: the new reader waits
        sem.ExitShared();
        Assert.True(writer.Join(Bound));
        Assert.True(writerIn);
        sem.Freeze();
        Assert.True(reader.Join(Bound));
        Assert.False(lateReader);
    }

    [Fact]
    public void Unbalanced_releases_are_model_usage_errors()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.Throws<InvalidOperationException>(sem.ExitShared);
        Assert.Throws<InvalidOperationException>(sem.ExitExclusive);
        Assert.Throws<InvalidOperationException>(sem.Freeze);
    }

    [Fact]
    public void Dfs_finds_the_lost_update_of_an_unlocked_read_modify_write_and_not_of_a_locked_one()
    {
        int Lost(bool locked)
        {
            var dfs = new BoundedDfsStrategy(maxPreemptions: 2);
            var m = new KernelMutex("toy");
            var point = new object();
            int lost = 0;
            do
            {
                int counter = 0;
                void Inc()
                {
                    if (locked) m.Enter();
                    int v = counter;
                    KernelScheduler.Current!.YieldPoint(point); // a preemption point between read and write
                    counter = v + 1;
                    if (locked) m.Exit();
                }
                var o = new DeterministicScheduler(dfs).Run([Inc, Inc], Bound);
                Assert.Null(o.Failure);
                if (counter != 2) lost++;
            }
            while (dfs.EndSchedule());
            return lost;
        }
        Assert.True(Lost(locked: false) > 0);
        Assert.Equal(0, Lost(locked: true));
    }

    [Fact]
    public void Dfs_reports_an_ab_ba_deadlock_instead_of_hanging()
    {
        var dfs = new BoundedDfsStrategy(maxPreemptions: 2);
        int deadlocks = 0, schedules = 0;
        do
        {
            var a = new KernelMutex("A");
            var b = new KernelMutex("B");
            void Ab() { a.Enter(); b.Enter(); b.Exit(); a.Exit(); }
            void Ba() { b.Enter(); a.Enter(); a.Exit(); b.Exit(); }
            var o = new DeterministicScheduler(dfs).Run([Ab, Ba], Bound);
            schedules++;
            if (o.Failure is { } f)
            {
                Assert.StartsWith("deadlock", f, StringComparison.Ordinal);
                deadlocks++;
            }
        }
        while (dfs.EndSchedule());
        Assert.True(deadlocks > 0, $"no deadlock in {schedules} schedules");
        Assert.True(deadlocks < schedules);
    }

    [Fact]
    public void Dfs_without_preemption_bound_enumerates_every_interleaving_once()
    {
        // Two tasks with two scheduling points each (plus the start): the choice trees are finite and every
        // schedule is distinct.
        var dfs = new BoundedDfsStrategy(maxPreemptions: int.MaxValue);
        var keys = new HashSet<string>();
        var point = new object();
        int runs = 0;
        do
        {
            var trace = new List<int>();
            void Task(int id)
            {
                for (int i = 0; i < 2; i++)
                {
                    KernelScheduler.Current!.YieldPoint(point);
                    lock (trace) trace.Add(id);
                }
            }
            var o = new DeterministicScheduler(dfs).Run([() => Task(0), () => Task(1)], Bound);
            Assert.Null(o.Failure);
            keys.Add(string.Join("", trace));
            runs++;
        }
        while (dfs.EndSchedule());
        Assert.Equal(6, keys.Count); // C(4,2) orders of the four appends
        Assert.True(runs >= keys.Count);
    }
}
