using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>Lifecycle of one boot.</summary>
public enum KernelState
{
    /// <summary>Running normally.</summary>
    Running,
    /// <summary>reboot(KEXEC) succeeded: LUO froze (serialize_lock held) and the machine is about to jump;
    /// call <see cref="Kernel.Kexec"/>.</summary>
    Rebooting,
    /// <summary>Kexec'd into the next kernel: this instance is dead.</summary>
    Kexeced,
    /// <summary>Panicked at boot (luo_restore_fail).</summary>
    Panicked,
}

/// <summary>How a boot ended up: normal, or a modelled panic with its reason.</summary>
public sealed record BootOutcome(bool Panicked, string? PanicReason)
{
    /// <summary>A normal boot.</summary>
    public static BootOutcome Ok { get; } = new(false, null);
}

/// <summary>
/// One boot of the modelled machine: KHO, LUO and a process model with a syscall surface. Syscalls take a
/// <see cref="Process"/> and return a <c>long</c>: ≥ 0 is the success value, &lt; 0 the negative errno exactly
/// as the kernel returns it (<see cref="Errno.Frozen"/> marks a call that would block forever). User buffers
/// are addresses in the process's <see cref="UserMemory"/>.
/// </summary>
public sealed partial class Kernel
{
    /// <summary>LINUX_REBOOT_CMD_KEXEC.</summary>
    public const uint LINUX_REBOOT_CMD_KEXEC = 0x45584543;
    /// <summary>LINUX_REBOOT_CMD_RESTART (a normal reboot: everything is lost).</summary>
    public const uint LINUX_REBOOT_CMD_RESTART = 0x01234567;

    private readonly List<Process> _processes = [];
    private int _nextPid = 1;
    /// <summary>system_transition_mutex: one reboot at a time.</summary>
    private readonly KernelMutex _rebootLock = new("system_transition_mutex");
    /// <summary>tasklist_lock: the process list and pid allocation.</summary>
    private readonly Lock _tasklistLock = new();

    /// <summary>
    /// Model-only "mm lock": stands for the leaf locks below LUO that the model does not split (KHO's trackers,
    /// the page allocator's zone lock, shmem inode locks, the handlers' and FLBs' own mutexes, fault injection).
    /// Always the innermost sleeping lock: it is taken after serialize_lock, the session list rwsem, the session
    /// and file mutexes and register_lock, never before them, so it adds no lock-order cycle. Its acquisitions
    /// are numbered (<see cref="KernelMutex.LastTicketOnThisThread"/>): every change of LUO, KHO or memfd state
    /// happens inside one, so the numbers give the order in which concurrent operations took effect.
    /// </summary>
    internal KernelMutex Mm { get; } = new("model:mm", ticketed: true);

    private Kernel(KernelConfig config, Kho.Kho kho, int bootNumber)
    {
        Config = config;
        Kho = kho;
        BootNumber = bootNumber;
        Luo = new Luo(this);
    }

    /// <summary>Settings of this boot.</summary>
    public KernelConfig Config { get; }
    /// <summary>This boot's KHO.</summary>
    public Kho.Kho Kho { get; }
    /// <summary>The shared physical memory.</summary>
    public PhysicalArena Arena => Kho.Arena;
    /// <summary>LUO.</summary>
    public Luo Luo { get; }
    /// <summary>1 for the cold boot, +1 per kexec.</summary>
    public int BootNumber { get; }
    /// <summary>Lifecycle state.</summary>
    public KernelState State { get; private set; }
    /// <summary>Boot outcome (panic or not).</summary>
    public BootOutcome Outcome { get; private set; } = BootOutcome.Ok;
    /// <summary>True when the boot panicked.</summary>
    public bool Panicked => Outcome.Panicked;
    /// <summary>The fault-injection hook.</summary>
    public FaultInjector Faults => Config.Faults;
    /// <summary>Live processes.</summary>
    public IReadOnlyList<Process> Processes => _processes;

    /// <summary>Boots the first kernel on a fresh arena.</summary>
    public static Kernel ColdBoot(KernelConfig? config = null)
    {
        config ??= new KernelConfig();
        var arena = new PhysicalArena(config.DramBytes);
        var kho = LuoModel.Kho.Kho.ColdBoot(arena, config.EffectiveKho);
        return Start(config, kho, 1);
    }

    private static Kernel Start(KernelConfig config, Kho.Kho kho, int boot)
    {
        var k = new Kernel(config, kho, boot);
        string? panic = k.Luo.EarlyInit();
        if (panic is not null)
        {
            k.Outcome = new BootOutcome(true, panic);
            k.State = KernelState.Panicked;
            return k;
        }
        k.Luo.LateInit();
        return k;
    }

    /// <summary>Jumps into the next kernel after a successful <see cref="Reboot"/> with
    /// <see cref="LINUX_REBOOT_CMD_KEXEC"/>: KHO kexec over the same arena, then boot with
    /// <paramref name="next"/> (or this config). This instance becomes unusable.</summary>
    public Kernel Kexec(KernelConfig? next = null) => Kexec(next, null);

    /// <summary>As <see cref="Kexec(KernelConfig?)"/>; <paramref name="atHandover"/> (when given) runs between the
    /// jump and the next boot, when the arena holds exactly what the next kernel will find (handoff recorded,
    /// unpreserved pages scrubbed): the place to save an image or decode the handover.</summary>
    public Kernel Kexec(KernelConfig? next, Action<PhysicalArena>? atHandover)
    {
        if (State != KernelState.Rebooting) throw new InvalidOperationException($"kexec needs a successful reboot(KEXEC) first (state {State})");
        Errno rc = Kho.Kexec(out var handoff);
        if (rc != Errno.Ok) throw new InvalidOperationException($"kexec load failed: {rc}");
        State = KernelState.Kexeced;
        atHandover?.Invoke(Arena);
        next ??= Config;
        var kho = LuoModel.Kho.Kho.Boot(Arena, next.EffectiveKho, handoff);
        return Start(next, kho, BootNumber + 1);
    }

    private void CheckUsable()
    {
        if (State is KernelState.Kexeced or KernelState.Panicked)
            throw new InvalidOperationException($"kernel boot {BootNumber} is {State}; model-usage error");
    }

    /// <summary>Creates a fresh process (model-only: like a process started by init).</summary>
    public Process CreateProcess()
    {
        CheckUsable();
        lock (_tasklistLock)
        {
            var p = new Process(this, _nextPid++, new UserMemory(), Config.NofileSoft, Config.NofileHard);
            _processes.Add(p);
            return p;
        }
    }

    internal static long Fail(Errno e) => -(long)e;

    private bool AnyProcess(Func<Process, bool> predicate)
    {
        lock (_tasklistLock) return _processes.Any(predicate);
    }

    /// <summary>fork(): the child shares every open file description and copies the address space.
    /// Returns the child (the model has no "return twice").</summary>
    public Process Fork(Process parent)
    {
        ArgumentNullException.ThrowIfNull(parent);
        CheckUsable();
        var refs = new List<MemfdFile>();
        int pid;
        lock (_tasklistLock) pid = _nextPid++;
        var child = new Process(this, pid, parent.Memory.Clone(refs), parent.NofileSoft, parent.NofileHard) { Sid = parent.Sid, Privileged = parent.Privileged };
        foreach (var f in refs) f.Get();
        foreach (var (fd, e) in parent.TakeEntries()) // copied under the parent's file_lock, each file referenced
            child.Replace(fd, e.File!, e.CloseOnExec);
        lock (_tasklistLock) _processes.Add(child);
        return child;
    }

    /// <summary>exit(): closes every fd (release results ignored) and drops the address space.</summary>
    public void Exit(Process p)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        if (p.Exited) return;
        foreach (int fd in p.OpenFds.ToList()) p.Remove(fd)?.Put();
        foreach (var f in p.Memory.Clear()) f.Put();
        p.Exited = true;
        lock (_tasklistLock) _processes.Remove(p);
    }

    /// <summary>setsid(): EPERM if already a process-group leader of its own session (pid == sid).</summary>
    public long Setsid(Process p)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        if (p.Sid == p.Pid) return Fail(Errno.EPERM);
        p.Sid = p.Pid;
        return p.Pid;
    }

    /// <summary>getrlimit(RLIMIT_NOFILE).</summary>
    public long GetrlimitNofile(Process p, out ulong soft, out ulong hard)
    {
        ArgumentNullException.ThrowIfNull(p);
        soft = p.NofileSoft;
        hard = p.NofileHard;
        return 0;
    }

    /// <summary>setrlimit(RLIMIT_NOFILE): soft &gt; hard → EINVAL; above fs.nr_open → EPERM; raising the hard
    /// limit without privilege → EPERM.</summary>
    public long SetrlimitNofile(Process p, ulong soft, ulong hard)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        if (soft > hard) return Fail(Errno.EINVAL);
        if (hard > Config.NrOpen) return Fail(Errno.EPERM);
        if (hard > p.NofileHard && !p.Privileged) return Fail(Errno.EPERM);
        p.NofileSoft = soft;
        p.NofileHard = hard;
        return 0;
    }

    /// <summary>reboot(cmd): KEXEC runs liveupdate_reboot() (luo.md §4.1); a failure is returned and the
    /// system keeps running. Success puts the kernel in <see cref="KernelState.Rebooting"/>; then call
    /// <see cref="Kexec"/>. Other commands → EINVAL (model only supports kexec).</summary>
    public long Reboot(Process p, uint cmd)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        if (State == KernelState.Rebooting) return Fail(Errno.Frozen);
        if (cmd != LINUX_REBOOT_CMD_KEXEC) return Fail(Errno.EINVAL);
        using (_rebootLock.Hold())
        {
            if (State == KernelState.Rebooting) return Fail(Errno.Frozen);
            Errno rc = Luo.Reboot();
            if (rc != Errno.Ok) return Fail(rc);
            State = KernelState.Rebooting;
            return 0;
        }
    }

    /// <summary>Model-only syscall: creates a <see cref="TestFile"/> (accepted by <see cref="TestFileHandler"/>)
    /// and returns its fd.</summary>
    public long CreateTestFile(Process p, ulong payload, string? tag = null)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        int fd = p.Reserve(0, false);
        if (fd < 0) return Fail(Errno.EMFILE);
        p.Install(fd, new TestFile(this, payload, tag ?? $"test-{payload:x}"));
        return fd;
    }

    /// <summary>The registered test handler (null when not registered).</summary>
    public TestFileHandler? TestHandler => Luo.Handlers.OfType<TestFileHandler>().FirstOrDefault();
}
