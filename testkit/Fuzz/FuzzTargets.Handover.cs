using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Handover;

namespace LuoModel.Testkit.Fuzz;

public static partial class FuzzTargets
{
    /// <summary>KHO structures the kho-boot target mutates.</summary>
    public static bool IsKhoKind(MetaKind k) => k is MetaKind.KhoFdt or MetaKind.RadixPage or MetaKind.ScratchArray;

    /// <summary>LUO structures (luo-v5 and luo-v1) the luo targets mutate (data pages excluded).</summary>
    public static bool IsLuoKind(MetaKind k) => k is MetaKind.LuoRoot or MetaKind.SessionBlock or MetaKind.FileBlock or MetaKind.MemfdRecord
        or MetaKind.FolioArray or MetaKind.VmallocChunk or MetaKind.FlbPage or MetaKind.LuoFdt or MetaKind.FdtSessionArea or MetaKind.FdtFileArea;

    private static readonly Lock s_layoutLock = new();
    private static readonly Dictionary<(LuoAbi, bool), (ulong Phys, int Length)[]> s_layouts = [];

    /// <summary>The byte ranges a handover target's input overwrites, in input order: the chosen structures, with
    /// radix pages cut after their last non-zero word (a fuzz input stays a few KiB).</summary>
    public static (ulong Phys, int Length)[] Layout(LuoAbi abi, bool kho)
    {
        lock (s_layoutLock)
        {
            if (s_layouts.TryGetValue((abi, kho), out var l)) return l;
            var h = DemoHandover.Get(abi);
            var arena = h.LoadArena();
            var list = new List<(ulong, int)>();
            foreach (var r in h.Regions)
            {
                if (kho ? !IsKhoKind(r.Kind) : !IsLuoKind(r.Kind)) continue;
                int len = r.Length;
                if (r.Kind == MetaKind.RadixPage)
                {
                    var page = new byte[r.Length];
                    arena.Read(r.Phys, page);
                    int last = page.AsSpan().LastIndexOfAnyExcept((byte)0);
                    len = Math.Min(r.Length, ((last / 8) + 2) * 8);
                }
                list.Add((r.Phys, len));
            }
            return s_layouts[(abi, kho)] = [.. list];
        }
    }

    /// <summary>The unmodified input of a handover target (its seed).</summary>
    public static byte[] HandoverSeed(LuoAbi abi, bool kho)
    {
        var arena = DemoHandover.Get(abi).LoadArena();
        using var ms = new MemoryStream();
        foreach (var (phys, len) in Layout(abi, kho))
        {
            var b = new byte[len];
            arena.Read(phys, b);
            ms.Write(b);
        }
        return ms.ToArray();
    }

    private static PhysicalArena Mutated(LuoAbi abi, bool kho, ReadOnlySpan<byte> input)
    {
        var arena = DemoHandover.Get(abi).LoadArena();
        foreach (var (phys, len) in Layout(abi, kho))
        {
            if (input.IsEmpty) break;
            int n = Math.Min(len, input.Length);
            arena.Write(phys, input[..n]);
            input = input[n..];
        }
        return arena;
    }

    /// <summary>KHO incoming boot: the input overwrites the KHO root FDT, the radix pages and the scratch array of
    /// the demo handover; the next kernel boots (KHO then LUO) and userspace retrieves everything. Allowed: KHO
    /// revival disabled with a reason, a KHO boot (and then any LUO outcome), never an exception or a non-kernel
    /// result. Then a second handover from that kernel must be accepted.</summary>
    public static void KhoBoot(ReadOnlySpan<byte> d) => BootAndObserve(LuoAbi.LuoV5, kho: true, d);

    /// <summary>luo-v5 deserialization: the input overwrites luo_ser, the session and file blocks, the memfd
    /// records, folio arrays, vmalloc chunks and the FLB page of the demo handover. Allowed outcomes (luo.md §5.7,
    /// §8 inv. 17): panic, EIO forever, or sessions and files as the bytes say (retrieve errors included).</summary>
    public static void LuoV5(ReadOnlySpan<byte> d) => BootAndObserve(LuoAbi.LuoV5, kho: false, d);

    /// <summary>luo-v1 (FDT era, luo.md §5.8) deserialization: the input overwrites the "luo-v1" FDT, the session
    /// area, the file areas, the memfd records, folio arrays, chunks and the FLB page.</summary>
    public static void LuoV1(ReadOnlySpan<byte> d) => BootAndObserve(LuoAbi.FdtV1, kho: false, d);

    private static void BootAndObserve(LuoAbi abi, bool kho, ReadOnlySpan<byte> d)
    {
        if (d.Length > MaxInput) d = d[..MaxInput];
        var h = DemoHandover.Get(abi);
        var k = h.Boot(Mutated(abi, kho, d));
        var obs = HandoverObserver.Observe(k);
        Require(obs.Anomaly is null, "anomaly: " + obs.Anomaly);
        if (obs.Boot == BootKind.Panic)
        {
            Require(obs.Reason.StartsWith("luo_restore_fail", StringComparison.Ordinal), "panic without a reason");
            return;
        }
        SecondHandover(k);
    }

    /// <summary>Whatever the previous handover held, this kernel's own handover must be accepted by the next one.</summary>
    private static void SecondHandover(LuoModel.Kernel.Kernel k)
    {
        var p = k.CreateProcess();
        long rc = k.Reboot(p, LuoModel.Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC);
        Require(rc == 0, $"reboot after a hostile handover = {rc}");
        // kexec load may fail (-EADDRNOTAVAIL when no scratch region holds the segment): a kernel outcome
        Errno load = k.Kho.Kexec(out var handoff);
        if (load != Errno.Ok) return;
        var next = LuoModel.Kernel.Kernel.BootFromHandoff(k.Arena, handoff, k.Config, k.BootNumber + 1);
        Require(!next.Panicked, "second handover panics: " + next.Outcome.PanicReason);
        Require(next.Kho.Incoming.IsKhoBoot, "second handover rejected: " + next.Kho.Incoming.Reason);
        var q = next.CreateProcess();
        long dev = LuoSyscalls.OpenDevice(next, q);
        Require(dev >= 0, $"second handover: open = {dev}");
    }
}
