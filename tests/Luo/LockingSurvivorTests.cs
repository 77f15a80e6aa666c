using LuoModel.Kernel;

namespace LuoModel.Tests.Luo;

/// <summary>
/// The model's kernel locks (kernel-model/Locking.cs) under the two regimes the model runs them in: free-running
/// threads, and a deterministic scheduler installed per thread (the scheduling points and wake-ups every lock
/// reports to it). Written against the Stryker survivors of the locking chunk (property-tests/README.md).
/// </summary>
public sealed class LockingSurvivorTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Records every hook call; <see cref="OnBlock"/> plays "another task ran" when a lock cannot be taken.</summary>
    private sealed class RecordingScheduler : IKernelScheduler
    {
        public readonly List<string> Calls = [];
        public Action? OnBlock;
        public void YieldPoint(object resource) => Calls.Add("yield " + resource);
        public void Block(object resource)
        {
            Calls.Add("block " + resource);
            var a = OnBlock ?? throw new InvalidOperationException("blocked with nobody to run");
            OnBlock = null;
            a();
        }
        public void Wake(object resource) => Calls.Add("wake " + resource);
    }

    private static T WithScheduler<T>(IKernelScheduler s, Func<T> body)
    {
        KernelScheduler.Current = s;
        try { return body(); }
        finally { KernelScheduler.Current = null; }
    }

    [Fact]
    public void Rwsem_under_a_scheduler_yields_before_each_acquisition_and_wakes_after_each_release()
    {
        var sem = new KernelRwSem("serialize_lock");
        var s = new RecordingScheduler();
        WithScheduler(s, () =>
        {
            Assert.True(sem.EnterShared());
            long t1 = KernelRwSem.LastTicketOnThisThread;
            sem.ExitShared();
            Assert.True(sem.EnterExclusive());
            Assert.Equal(t1 + 1, KernelRwSem.LastTicketOnThisThread);
            sem.ExitExclusive();
            Assert.True(sem.EnterShared());
            Assert.Equal(t1 + 2, KernelRwSem.LastTicketOnThisThread);
            sem.ExitShared();
            return 0;
        });
        Assert.Equal(["yield serialize_lock", "wake serialize_lock", "yield serialize_lock", "wake serialize_lock",
            "yield serialize_lock", "wake serialize_lock"], s.Calls);
    }

    [Fact]
    public void A_scheduled_reader_blocks_behind_a_writer_until_it_releases()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterExclusive());
        var s = new RecordingScheduler { OnBlock = sem.ExitExclusive };
        Assert.True(WithScheduler(s, sem.EnterShared));
        Assert.Equal(["yield serialize_lock", "block serialize_lock", "wake serialize_lock"], s.Calls);
        // The reader holds it now: a free-running writer must not get in until it leaves.
        Assert.Throws<InvalidOperationException>(sem.ExitExclusive);
        sem.ExitShared();
        Assert.True(sem.EnterExclusive());
        sem.ExitExclusive();
    }

    [Fact]
    public void A_scheduled_writer_blocks_behind_a_reader_and_behind_a_writer()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterShared());
        var s = new RecordingScheduler { OnBlock = sem.ExitShared };
        Assert.True(WithScheduler(s, sem.EnterExclusive));
        Assert.Equal(["yield serialize_lock", "block serialize_lock", "wake serialize_lock"], s.Calls);
        Assert.Throws<InvalidOperationException>(sem.ExitShared); // no reader left

        var s2 = new RecordingScheduler { OnBlock = sem.ExitExclusive };
        Assert.True(WithScheduler(s2, sem.EnterExclusive)); // the first writer's release lets the second in
        Assert.Equal(["yield serialize_lock", "block serialize_lock", "wake serialize_lock"], s2.Calls);
        sem.ExitExclusive();
    }

    [Fact]
    public void A_scheduled_task_on_a_frozen_rwsem_gets_false_without_blocking()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterExclusive());
        var s = new RecordingScheduler();
        WithScheduler(s, () =>
        {
            sem.Freeze();
            Assert.False(sem.EnterShared());
            Assert.False(sem.EnterExclusive());
            return 0;
        });
        Assert.Equal(["wake serialize_lock", "yield serialize_lock", "yield serialize_lock"], s.Calls);
        Assert.True(sem.IsFrozen);
    }

    [Fact]
    public void A_scheduled_reader_blocked_by_a_writer_that_freezes_gets_false()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterExclusive());
        var s = new RecordingScheduler { OnBlock = sem.Freeze };
        Assert.False(WithScheduler(s, sem.EnterShared));
        Assert.Equal(["yield serialize_lock", "block serialize_lock", "wake serialize_lock"], s.Calls);
    }

    [Fact]
    public void Misuse_of_a_rwsem_names_the_lock()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.Equal("serialize_lock: up_read without down_read", Assert.Throws<InvalidOperationException>(sem.ExitShared).Message);
        Assert.Equal("serialize_lock: up_write without down_write", Assert.Throws<InvalidOperationException>(sem.ExitExclusive).Message);
        Assert.Equal("serialize_lock: freeze without down_write", Assert.Throws<InvalidOperationException>(sem.Freeze).Message);
        Assert.Equal("serialize_lock", sem.ToString());
        Assert.True(sem.EnterExclusive());
        sem.Freeze();
        Assert.Throws<InvalidOperationException>(sem.ExitExclusive); // a frozen writer never releases
    }

    [Fact]
    public void A_free_running_writer_waiting_on_two_readers_gets_in_when_the_last_leaves()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterShared());
        Assert.True(sem.EnterShared());
        bool? got = null;
        var writer = new Thread(() => got = sem.EnterExclusive());
        writer.Start();
        Thread.Sleep(50);
        sem.ExitShared();
        Thread.Sleep(50);
        Assert.Null(got); // one reader still inside
        sem.ExitShared();
        Assert.True(writer.Join(Bound), "the last reader's release did not wake the writer");
        Assert.True(got);
        sem.ExitExclusive();
    }

    [Fact]
    public void Thaw_lets_the_lock_be_taken_again()
    {
        var sem = new KernelRwSem("serialize_lock");
        Assert.True(sem.EnterExclusive());
        sem.Freeze();
        Assert.False(sem.EnterShared());
        sem.Thaw();
        Assert.False(sem.IsFrozen);
        Assert.True(sem.EnterShared());
        sem.ExitShared();
        Assert.True(sem.EnterExclusive());
        sem.ExitExclusive();
    }
}

/// <summary>Tests that read the process-wide count of threads with a scheduler: alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(SchedulerCountCollection), DisableParallelization = true)]
public sealed class SchedulerCountCollection;

/// <summary><see cref="KernelScheduler"/> counts the threads with a scheduler so that lock paths skip the
/// thread-local lookup while there are none; a count that drops too low hides a thread's scheduler from its locks.</summary>
[Collection(nameof(SchedulerCountCollection))]
public sealed class SchedulerCountTests
{
    private sealed class NopScheduler : IKernelScheduler
    {
        public void YieldPoint(object resource) { }
        public void Block(object resource) { }
        public void Wake(object resource) { }
    }

    [Fact]
    public void Installing_replacing_and_dropping_a_scheduler_moves_the_count_by_one_each_way()
    {
        int b = KernelScheduler.InstalledThreads;
        try
        {
            KernelScheduler.Current = null;             // none → none
            Assert.Equal(b, KernelScheduler.InstalledThreads);
            var s = new NopScheduler();
            KernelScheduler.Current = s;                // none → one
            Assert.Equal(b + 1, KernelScheduler.InstalledThreads);
            Assert.Same(s, KernelScheduler.Current);
            KernelScheduler.Current = new NopScheduler(); // one → another
            Assert.Equal(b + 1, KernelScheduler.InstalledThreads);
        }
        finally { KernelScheduler.Current = null; }     // one → none
        Assert.Equal(b, KernelScheduler.InstalledThreads);
        Assert.Null(KernelScheduler.Current);
    }

    [Fact]
    public void Another_threads_scheduler_stays_visible_to_it_while_this_thread_changes_its_own()
    {
        var other = new NopScheduler();
        IKernelScheduler? seen = null;
        using var installed = new ManualResetEventSlim();
        using var checkNow = new ManualResetEventSlim();
        var t = new Thread(() =>
        {
            KernelScheduler.Current = other;
            installed.Set();
            checkNow.Wait(TimeSpan.FromSeconds(10));
            seen = KernelScheduler.Current;
            KernelScheduler.Current = null;
        });
        t.Start();
        Assert.True(installed.Wait(TimeSpan.FromSeconds(10)));
        KernelScheduler.Current = new NopScheduler();
        KernelScheduler.Current = null;
        checkNow.Set();
        Assert.True(t.Join(TimeSpan.FromSeconds(10)));
        Assert.Same(other, seen);
    }
}
