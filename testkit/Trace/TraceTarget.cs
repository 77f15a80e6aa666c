using LuoModel.Kernel;
using LuoModel.Kho;
using KernelBoot = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit.Trace;

/// <summary>
/// Executes <see cref="TraceOp"/>s against the kernel model (docs/trace-format.md §4): one machine (arena and
/// fault injector kept across kexecs), the current boot's kernel and its single process, a three-page user
/// region for ioctl arguments (rw, rw, ro, then a hole) and a 16-page KHO test region per boot.
/// </summary>
public sealed class TraceTarget
{
    /// <summary>Pages of the user region (the page after them is unmapped).</summary>
    public const int RegionPages = 3;
    /// <summary>Bytes of the user region.</summary>
    public const int RegionBytes = RegionPages * UserMemory.PageSize;
    /// <summary>Pages of the per-boot KHO test region (one order-4 block).</summary>
    public const int KhoRegionPages = 16;
    /// <summary>Largest struct window read back after an ioctl (every LUO reply is at most 72 bytes).</summary>
    public const int ReplyWindow = 72;
    /// <summary>XOR the test handler's freeze applies to serialized_data (N commits the post-freeze value).</summary>
    public const ulong FreezeXor = 0x5A5A;
    /// <summary>Model DRAM of a trace machine.</summary>
    public const ulong DramBytes = 1UL << 30;

    private TraceTarget(LuoMutant mutants)
        : this(new KernelConfig { DramBytes = DramBytes, Luo = new LuoOptions { Mutants = mutants }, Faults = new FaultInjector() })
    {
    }

    private TraceTarget(KernelConfig config)
    {
        Mutants = config.Luo.Mutants;
        Config = config;
        Kernel = KernelBoot.ColdBoot(Config);
        Process = null!;
        AfterBoot();
    }

    /// <summary>TEST-ONLY mutants of every kernel of this machine.</summary>
    public LuoMutant Mutants { get; }
    /// <summary>The configuration every boot uses.</summary>
    public KernelConfig Config { get; private set; }
    /// <summary>The current boot.</summary>
    public KernelBoot Kernel { get; private set; }
    /// <summary>The process of the current boot (pid 1 in traces).</summary>
    public Process Process { get; private set; }
    /// <summary>User address of the argument region.</summary>
    public ulong Region { get; private set; }
    /// <summary>First pfn of this boot's KHO test region (0 if none).</summary>
    public ulong KhoRegionPfn { get; private set; }
    /// <summary>First pfn of the previous boot's KHO test region (0 if none).</summary>
    public ulong PrevKhoRegionPfn { get; private set; }
    /// <summary>Boots since the cold boot (1 = cold boot).</summary>
    public int Boot { get; private set; }
    /// <summary>The test FLB linked at this boot (null when LUO is off).</summary>
    public CountingFlb? Flb { get; private set; }
    /// <summary>Keys this boot's trace preserved in the KHO test region (set semantics, kho.md §5 inv. 3).</summary>
    public HashSet<(ulong Phys, int Order)> UserKeys { get; } = [];
    /// <summary>True once a <see cref="CorruptOp"/> changed this boot's handover (its bytes are then hostile).</summary>
    public bool HandoverCorrupted { get; private set; }
    /// <summary>True when the current boot panicked (only coldboot() can follow).</summary>
    public bool Panicked => Kernel.Panicked;
    /// <summary>KHO keys present right after this boot's late init (KHO's own and LUO's root and FLB page).</summary>
    public IReadOnlySet<(ulong Phys, int Order)> BootKeys { get; private set; } = new HashSet<(ulong, int)>();

    /// <summary>A freshly cold-booted machine.</summary>
    public static TraceTarget ColdBoot(LuoMutant mutants = LuoMutant.None) => new(mutants);

    /// <summary>A freshly cold-booted machine running every boot with <paramref name="config"/>'s switches (a
    /// variant); the trace machine's DRAM size and a fresh fault injector replace the config's own.</summary>
    public static TraceTarget ColdBoot(KernelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new(config with { DramBytes = DramBytes, Faults = new FaultInjector() });
    }

    /// <summary>The pattern byte of page <paramref name="index"/> of the KHO region of boot <paramref name="boot"/>.</summary>
    public static byte Pattern(int boot, int index) => (byte)((boot * 16) + index + 1);

    private void AfterBoot()
    {
        Boot++;
        Flb = null;
        KhoRegionPfn = 0;
        UserKeys.Clear();
        HandoverCorrupted = false;
        BootKeys = new HashSet<(ulong, int)>();
        if (Kernel.Panicked) return;
        Process = Kernel.CreateProcess();
        Region = Process.Memory.Map(RegionBytes, Prot.Read | Prot.Write);
        Process.Memory.Protect(Region + (2 * UserMemory.PageSize), UserMemory.PageSize, Prot.Read);
        if (Kernel.TestHandler is { } th)
        {
            th.FreezeXor = FreezeXor;
            var flb = new CountingFlb();
            if (Kernel.Luo.RegisterFlb(th, flb) == Errno.Ok) Flb = flb;
        }
        if (Kernel.Kho.IsEnabled && Kernel.Kho.Pages.TryAlloc(4, AllocFlags.Zeroed, out ulong pfn))
        {
            KhoRegionPfn = pfn;
            for (int i = 0; i < KhoRegionPages; i++)
                Kernel.Arena.Fill((pfn + (ulong)i) << PhysicalArena.PageShift, PhysicalArena.PageSize, Pattern(Boot, i));
        }
        BootKeys = Kernel.Kho.IsEnabled ? Kernel.Kho.PreservedBlocks().ToHashSet() : new HashSet<(ulong, int)>();
    }

    /// <summary>User address of a buffer placement.</summary>
    public ulong Address(BufPlace place, int split) => place switch
    {
        BufPlace.Rw => Region,
        BufPlace.Ro => Region + (2 * UserMemory.PageSize),
        BufPlace.RwRo => Region + (2 * UserMemory.PageSize) - (ulong)split,
        BufPlace.RoHole => Region + RegionBytes - (ulong)split,
        _ => Region + RegionBytes,
    };

    /// <summary>Bytes that exist (mapped) from a placement to the hole.</summary>
    public static int Mapped(BufPlace place, int split) => place switch
    {
        BufPlace.Rw => RegionBytes,
        BufPlace.Ro => UserMemory.PageSize,
        BufPlace.RwRo => split + UserMemory.PageSize,
        BufPlace.RoHole => split,
        _ => 0,
    };

    /// <summary>Bytes read back after an ioctl: max(input, 72), clipped to the mapped bytes.</summary>
    public static int Window(BufPlace place, int split, int inputLength) => Math.Min(Math.Max(inputLength, ReplyWindow), Mapped(place, split));

    /// <summary>Runs one call and returns what it did.</summary>
    public TraceResult Execute(TraceOp op)
    {
        ArgumentNullException.ThrowIfNull(op);
        if (op is ColdBootOp)
        {
            Config = Config with { Faults = new FaultInjector() };
            Kernel = KernelBoot.ColdBoot(Config);
            Boot = 0;
            PrevKhoRegionPfn = 0;
            AfterBoot();
            return new TraceResult(Kernel.Panicked ? TraceResult.Panic : 0);
        }
        if (Kernel.Panicked) throw new InvalidOperationException($"trace op {op} after a panic (only coldboot() may follow)");
        var k = Kernel;
        var p = Process;
        switch (op)
        {
            case OpenOp o: return new(k.Open(p, o.Path, o.Flags));
            case CloseOp c: return new(k.Close(p, c.Fd));
            case DupOp d: return new(k.Dup(p, d.Fd));
            case IoctlOp io: return Ioctl(io);
            case MemfdCreateOp m: return new(k.MemfdCreate(p, m.Name, m.Flags));
            case WriteOp w:
                if (w.Data.Length > 2 * UserMemory.PageSize) throw new ArgumentException("write data over 8 KiB", nameof(op));
                p.Memory.Poke(Region, w.Data);
                return new(k.Write(p, w.Fd, Region, (ulong)w.Data.Length));
            case PreadOp r:
            {
                if (r.Count is < 0 or > 2 * UserMemory.PageSize) throw new ArgumentException("pread count over 8 KiB", nameof(op));
                p.Memory.Poke(Region, new byte[r.Count]);
                long rc = k.Pread(p, r.Fd, Region, (ulong)r.Count, r.Offset);
                return new(rc, rc > 0 ? p.Memory.Peek(Region, (int)rc) : null);
            }
            case FtruncateOp t: return new(k.Ftruncate(p, t.Fd, t.Length));
            case AddSealsOp s: return new(k.Fcntl(p, s.Fd, FcntlCmd.F_ADD_SEALS, s.Seals));
            case LseekOp l: return new(k.Lseek(p, l.Fd, l.Offset, l.Whence));
            case SetrlimitOp r: return new(k.SetrlimitNofile(p, r.Soft, p.NofileHard));
            case RebootOp rb: return new(k.Reboot(p, rb.Cmd));
            case KexecOp:
                if (k.State != KernelState.Rebooting) return new(-(long)Errno.EINVAL);
                PrevKhoRegionPfn = KhoRegionPfn;
                Kernel = k.Kexec();
                AfterBoot();
                return new(Kernel.Panicked ? TraceResult.Panic : 0);
            case TestFileOp t: return new(k.CreateTestFile(p, t.Payload));
            case TestFileFlagsOp f:
                if (p.FileOf(f.Fd) is not TestFile tf) return new(-(long)Errno.EBADF);
                tf.FailFreeze = f.FailFreeze;
                tf.RefusePreserve = f.RefusePreserve;
                tf.RefuseFinish = f.RefuseFinish;
                return new(0);
            case FailNthOp f:
                if (f.Nth <= 0) return new(-(long)Errno.EINVAL);
                k.Faults.FailNth(f.Point, k.Faults.Count(f.Point) + f.Nth, f.Error);
                return new(0);
            case KhoFolioOp kf: return KhoFolio(kf);
            case KhoRestoreOp kr: return KhoRestore(kr);
            case FlbIncomingOp fi:
                if (Flb is null) return new(-(long)Errno.EOPNOTSUPP);
                if (fi.Put) { k.Luo.FlbPutIncoming(Flb); return new(0); }
                return new(-(long)k.Luo.FlbGetIncoming(Flb, out _));
            case CorruptOp c: return Corrupt(c.Kind);
            default: throw new ArgumentException($"unknown trace op {op.GetType().Name}", nameof(op));
        }
    }

    private TraceResult Ioctl(IoctlOp io)
    {
        var mem = Process.Memory;
        mem.Poke(Region, new byte[RegionBytes]);
        ulong addr = Address(io.Place, io.Split);
        int mapped = Mapped(io.Place, io.Split);
        int n = Math.Min(io.Input.Length, mapped);
        if (n > 0) mem.Poke(addr, io.Input.AsSpan(0, n));
        long rc = Kernel.Ioctl(Process, io.Fd, io.Cmd, addr);
        int w = Window(io.Place, io.Split, io.Input.Length);
        return new(rc, w > 0 ? mem.Peek(addr, w) : []);
    }

    private TraceResult KhoFolio(KhoFolioOp kf)
    {
        if (KhoRegionPfn == 0) return new(-(long)Errno.EINVAL);
        if (kf.Order is < 0 or > 4 || kf.Index < 0 || kf.Index + (1 << kf.Order) > KhoRegionPages || (kf.Index & ((1 << kf.Order) - 1)) != 0)
            return new(-(long)Errno.EINVAL);
        var folio = new Folio(KhoRegionPfn + (ulong)kf.Index, kf.Order);
        Errno rc = kf.Unpreserve ? Kernel.Kho.UnpreserveFolio(folio) : Kernel.Kho.PreserveFolio(folio);
        if (rc == Errno.Ok && kf.Unpreserve) UserKeys.Remove((folio.Phys, kf.Order));
        else if (rc == Errno.Ok) UserKeys.Add((folio.Phys, kf.Order));
        return new(-(long)rc);
    }

    private TraceResult KhoRestore(KhoRestoreOp kr)
    {
        if (PrevKhoRegionPfn == 0 || kr.Index is < 0 or >= KhoRegionPages || !Kernel.Kho.IsEnabled) return new(-(long)Errno.ENOENT);
        if (!Kernel.Kho.RestoreFolio((PrevKhoRegionPfn + (ulong)kr.Index) << PhysicalArena.PageShift, out var f)) return new(-(long)Errno.ENOENT);
        var first = new byte[1 << f.Order];
        for (int i = 0; i < first.Length; i++) Kernel.Arena.Read((f.Pfn + (ulong)i) << PhysicalArena.PageShift, first.AsSpan(i, 1));
        return new(f.Order, first);
    }

    private TraceResult Corrupt(CorruptKind kind)
    {
        var luo = Kernel.Luo;
        if (Kernel.State != KernelState.Rebooting || luo.OutRootPhys == 0) return new(-(long)Errno.EINVAL);
        switch (kind)
        {
            case CorruptKind.RootCompatible:
                HandoverCorrupted = true;
                Kernel.Arena.Write(luo.OutRootPhys, "X"u8);
                return new(0);
            default:
                if (luo.Outgoing.Blocks is null) return new(-(long)Errno.EINVAL); // FDT-era ABI: no session block set to corrupt
                for (int i = 0; i < luo.Outgoing.Count; i++)
                {
                    if (luo.Outgoing.Sessions[i].Files.Count == 0) continue;
                    ulong at = luo.Outgoing.Blocks!.SlotAddress(i) + LuoSessionSer.CountOffset;
                    Kernel.Arena.WriteU64(at, Kernel.Arena.ReadU64(at) + 1);
                    HandoverCorrupted = true;
                    return new(0);
                }
                return new(-(long)Errno.ENOENT);
        }
    }
}
