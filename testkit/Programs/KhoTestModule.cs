using System.Buffers.Binary;
using LuoModel.Fdt;
using LuoModel.Kernel;
using LuoModel.Kho;
using FdtRo = LuoModel.Fdt.Fdt;
using KhoCore = LuoModel.Kho.Kho;

namespace LuoModel.Testkit;

/// <summary>
/// lib/test_kho.c as an in-kernel module of the model (scenarios.md row I): loaded at boot, it either saves
/// (fresh boot: random-order folios filled with seeded random bytes, a checksum, a vmalloc array describing
/// the folios, a small FDT, subtree "kho_test") or restores and verifies (after kexec). It calls the KHO API of
/// the running kernel directly, as a module does; every call is recorded with pid 0.
/// </summary>
public sealed class KhoTestModule
{
    /// <summary>Default max_mem: two maximal buddy blocks (PAGE_SIZE &lt;&lt; MAX_PAGE_ORDER) × 2 = 8 MiB.</summary>
    public const long DefaultMaxMem = ((long)PhysicalArena.PageSize << KhoCore.MaxPageOrder) * 2;
    /// <summary>KHO_TEST_MAGIC ("KHO!").</summary>
    public const uint Magic = 0x4b484f21;
    /// <summary>KHO_TEST_FDT.</summary>
    public const string SubtreeName = "kho_test";
    /// <summary>KHO_TEST_COMPAT.</summary>
    public const string Compatible = "kho-test-v1";
    /// <summary>Log prefix (pr_fmt = KBUILD_MODNAME ": ").</summary>
    public const string LogPrefix = "test_kho: ";
    private const int NrPageOrders = KhoCore.MaxPageOrder + 1;

    private readonly long _maxMem;
    private readonly Random _rng;

    /// <summary>A module with parameter <paramref name="maxMem"/> and a seeded random source standing for
    /// get_random_u32()/get_random_bytes().</summary>
    public KhoTestModule(long maxMem = DefaultMaxMem, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxMem);
        _maxMem = maxMem;
        _rng = new Random(seed);
    }

    /// <summary>Folios allocated by the save path (phys, order), in allocation order.</summary>
    public IReadOnlyList<Folio> Folios => _folios;
    private readonly List<Folio> _folios = [];
    /// <summary>Checksum computed by the save path.</summary>
    public uint SavedChecksum { get; private set; }

    /// <summary>The kho/ runner's configuration on top of <paramref name="variant"/>: kho=on, no liveupdate=.</summary>
    public static KernelConfig RunnerConfig(KernelConfig variant)
    {
        ArgumentNullException.ThrowIfNull(variant);
        return variant with { KhoParam = "on", Liveupdate = null };
    }

    /// <summary>I1 then I2: load on a fresh boot (save), kexec, load again (restore). Checks the module init
    /// results and the "KHO restore succeeded" line, as the runner does.</summary>
    public void RunTwoBoots(ScenarioRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var m = run.NewMachine(RunnerConfig(run.Config));
        int rc = Init(run, m);
        if (!run.Check("test_kho: module init, boot 1 (save)", Want.Zero, rc, fatal: true)) return;
        var kho = m.Kernel.Kho;
        if (kho.Options.Variant == KhoVariant.KhoV1)
        {
            Errno f = kho.Finalize(); // the kho-v1 era runner finalizes through debugfs before kexec
            m.Sys.KernelCall("kho_finalize", "", -(long)f);
        }
        if (!run.Check("init: reboot(LINUX_REBOOT_CMD_KEXEC)", Want.Zero, m.RebootKexec(), fatal: true)) return;
        var k = m.Kexec();
        if (!run.CheckThat("boot 2", !k.Panicked, "boots", k.Panicked ? "panic: " + k.Outcome.PanicReason : "boots", fatal: true)) return;
        rc = Init(run, m);
        run.Check("test_kho: module init, boot 2 (restore)", Want.Zero, rc);
        bool ok = run.Output.Contains(LogPrefix + "KHO restore succeeded");
        run.CheckThat("kernel log", ok, "\"KHO restore succeeded\"", ok ? "\"KHO restore succeeded\"" : "(missing)");
    }

    /// <summary>kho_test_init() on the machine's current boot: 0 or −errno.</summary>
    public int Init(ScenarioRun run, Machine machine)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(machine);
        var kho = machine.Kernel.Kho;
        if (!kho.IsEnabled) return 0;
        Errno e = kho.RetrieveSubtree(SubtreeName, out ulong fdtPhys, out _);
        machine.Sys.KernelCall("kho_retrieve_subtree", "\"" + SubtreeName + "\"", -(long)e, e == Errno.Ok ? $"0x{fdtPhys:x}" : null);
        if (e == Errno.Ok)
        {
            Errno r = Restore(machine, fdtPhys);
            run.Print(LogPrefix + (r == Errno.Ok ? "KHO restore succeeded" : "KHO restore failed"));
            return -(int)r;
        }
        if (e != Errno.ENOENT)
        {
            run.Print($"{LogPrefix}failed to retrieve {SubtreeName} FDT: {e.ToKernel()}");
            return e.ToKernel();
        }
        return -(int)Save(machine);
    }

    private static void Call(Machine m, string call, string args, Errno e) => m.Sys.KernelCall(call, args, -(long)e);

    // ----- save (boot 1) -----

    private Errno Save(Machine m)
    {
        long maxMem = (_maxMem + PhysicalArena.PageSize - 1) & ~(long)(PhysicalArena.PageSize - 1); // PAGE_ALIGN
        Errno rc = GenerateData(m, maxMem);
        return rc != Errno.Ok ? rc : Preserve(m);
    }

    private Errno GenerateData(Machine m, long maxMem)
    {
        var kho = m.Kernel.Kho;
        long allocated = 0;
        uint csum = 0;
        while (allocated < maxMem)
        {
            int order = _rng.Next(NrPageOrders);
            if (allocated + ((long)PhysicalArena.PageSize << order) > maxMem)
            {
                order = KhoCore.GetOrder((ulong)(maxMem - allocated));
                if (order > 0) order--;
            }
            int size = PhysicalArena.PageSize << order;
            if (!kho.Pages.TryAlloc(order, AllocFlags.None, out ulong pfn))
            {
                m.Sys.KernelCall("folio_alloc", order.ToString(System.Globalization.CultureInfo.InvariantCulture), -(long)Errno.ENOMEM, null, "NULL");
                foreach (var f in _folios) kho.Pages.Free(f.Pfn, f.Order);
                _folios.Clear();
                return Errno.ENOMEM;
            }
            var folio = new Folio(pfn, order);
            m.Sys.KernelCall("folio_alloc", order.ToString(System.Globalization.CultureInfo.InvariantCulture), 0, null, $"0x{folio.Phys:x}");
            _folios.Add(folio);
            var bytes = new byte[size];
            _rng.NextBytes(bytes); // get_random_bytes()
            kho.Arena.Write(folio.Phys, bytes);
            csum = CsumPartial(bytes, csum);
            allocated += size;
        }
        SavedChecksum = csum;
        return Errno.Ok;
    }

    private Errno Preserve(Machine m)
    {
        var kho = m.Kernel.Kho;
        int fdtSize = (_folios.Count * sizeof(ulong)) + PhysicalArena.PageSize;
        int fdtOrder = KhoCore.GetOrder((ulong)fdtSize);
        bool got = kho.Pages.TryAlloc(fdtOrder, AllocFlags.None, out ulong fdtPfn);
        m.Sys.KernelCall("folio_alloc", fdtOrder.ToString(System.Globalization.CultureInfo.InvariantCulture), got ? 0 : -(long)Errno.ENOMEM, null,
            got ? $"0x{fdtPfn << PhysicalArena.PageShift:x}" : "NULL");
        if (!got) return Errno.ENOMEM;
        var fdt = new Folio(fdtPfn, fdtOrder);
        Errno err = kho.PreserveFolio(fdt);
        Call(m, "kho_preserve_folio", $"0x{fdt.Phys:x}, order {fdtOrder}", err);
        if (err != Errno.Ok)
        {
            kho.Pages.Free(fdtPfn, fdtOrder);
            return err;
        }
        err = PreserveData(m, out var data);
        if (err == Errno.Ok)
        {
            err = PrepareFdt(kho, fdt, fdtSize, data.Desc, out int total);
            if (err == Errno.Ok)
            {
                err = kho.AddSubtree(SubtreeName, fdt.Phys, (ulong)total);
                Call(m, "kho_add_subtree", $"\"{SubtreeName}\", 0x{fdt.Phys:x}, {total}", err);
                if (err == Errno.Ok) return Errno.Ok;
            }
            UnpreserveData(m, data, _folios.Count);
        }
        kho.UnpreserveFolio(fdt);
        kho.Pages.Free(fdtPfn, fdtOrder);
        return err;
    }

    private readonly record struct PreservedArray(ulong Addr, KhoVmalloc Desc);

    private Errno PreserveData(Machine m, out PreservedArray data)
    {
        var kho = m.Kernel.Kho;
        data = default;
        int pages = Math.Max(1, ((_folios.Count * sizeof(ulong)) + PhysicalArena.PageSize - 1) / PhysicalArena.PageSize);
        ulong addr = kho.Vmalloc.Allocate(pages);
        m.Sys.KernelCall("vmalloc_array", $"{_folios.Count}, 8", addr == 0 ? -(long)Errno.ENOMEM : 0, null, addr == 0 ? "NULL" : $"0x{addr:x}");
        if (addr == 0) return Errno.ENOMEM;
        var desc = default(KhoVmalloc);
        Errno err = kho.PreserveVmalloc(addr, ref desc);
        Call(m, "kho_preserve_vmalloc", $"0x{addr:x}", err);
        var area = kho.Vmalloc.Find(addr)!;
        if (err != Errno.Ok)
        {
            foreach (ulong pg in area.Pages) kho.Pages.Free(pg >> PhysicalArena.PageShift, 0);
            return err;
        }
        data = new PreservedArray(addr, desc);
        for (int i = 0; i < _folios.Count; i++)
        {
            var f = _folios[i];
            ulong off = (ulong)i * sizeof(ulong);
            kho.Arena.WriteU64(area.Pages[(int)(off / PhysicalArena.PageSize)] + (off % PhysicalArena.PageSize), f.Phys | (uint)f.Order);
            err = kho.PreserveFolio(f);
            Call(m, "kho_preserve_folio", $"0x{f.Phys:x}, order {f.Order}", err);
            if (err != Errno.Ok)
            {
                UnpreserveData(m, data, i);
                return err;
            }
        }
        return Errno.Ok;
    }

    /// <summary>kho_test_unpreserve_data(): unpreserve the first <paramref name="preserved"/> folios and the
    /// array, then vfree the array.</summary>
    private void UnpreserveData(Machine m, PreservedArray data, int preserved)
    {
        var kho = m.Kernel.Kho;
        for (int i = 0; i < preserved; i++) kho.UnpreserveFolio(_folios[i]);
        kho.UnpreserveVmalloc(data.Desc);
        var area = kho.Vmalloc.Find(data.Addr);
        if (area is not null) foreach (ulong pg in area.Pages) kho.Pages.Free(pg >> PhysicalArena.PageShift, 0);
    }

    private Errno PrepareFdt(KhoCore kho, Folio fdt, int fdtSize, KhoVmalloc desc, out int total)
    {
        total = 0;
        var buf = new byte[fdtSize];
        Span<byte> u32 = stackalloc byte[4];
        Span<byte> vm = stackalloc byte[KhoVmalloc.SizeOf];
        using var w = new FdtWriter();
        int err = w.Create(buf, fdtSize);
        err |= w.FinishReservemap();
        err |= w.BeginNode("");
        err |= w.Property("compatible", "kho-test-v1\0"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(u32, Magic);
        err |= w.Property("magic", u32);
        err |= w.BeginNode("data");
        BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)_folios.Count);
        err |= w.Property("nr_folios", u32);
        desc.WriteTo(vm);
        err |= w.Property("folios_info", vm);
        BinaryPrimitives.WriteUInt32LittleEndian(u32, SavedChecksum);
        err |= w.Property("csum", u32);
        err |= w.EndNode();
        err |= w.EndNode();
        err |= w.Finish();
        if (err != 0) return Errno.EINVAL;
        total = (int)FdtRo.TotalSize(buf);
        kho.Arena.Write(fdt.Phys, buf);
        return Errno.Ok;
    }

    // ----- restore (boot 2) -----

    private static Errno Restore(Machine m, ulong fdtPhys)
    {
        var kho = m.Kernel.Kho;
        Span<byte> head = stackalloc byte[8];
        if (!kho.Arena.TryRead(fdtPhys, head)) return Errno.EINVAL;
        uint size = BinaryPrimitives.ReadUInt32BigEndian(head[4..]);
        if (size < 8 || size > HandoverReader.MaxFdtBytes) return Errno.EINVAL;
        var fdt = new byte[size];
        if (!kho.Arena.TryRead(fdtPhys, fdt)) return Errno.EINVAL;
        int node = FdtRo.PathOffset(fdt, "/");
        if (node < 0) return Errno.EINVAL;
        if (FdtRo.NodeCheckCompatible(fdt, node, Compatible) != 0) return Errno.EINVAL;
        if (FdtRo.GetProp(fdt, node, "magic", out var magic) != 4) return Errno.EINVAL;
        if (BinaryPrimitives.ReadUInt32LittleEndian(magic) != Magic) return Errno.EINVAL;
        return RestoreData(m, fdt);
    }

    private static Errno RestoreData(Machine m, byte[] fdt)
    {
        var kho = m.Kernel.Kho;
        int node = FdtRo.PathOffset(fdt, "/data");
        if (FdtRo.GetProp(fdt, node, "nr_folios", out var nr) != 4) return Errno.EINVAL;
        if (FdtRo.GetProp(fdt, node, "csum", out var old) != 4) return Errno.EINVAL;
        if (FdtRo.GetProp(fdt, node, "folios_info", out var info) != KhoVmalloc.SizeOf) return Errno.EINVAL;
        var desc = KhoVmalloc.ReadFrom(info);
        ulong addr = kho.RestoreVmalloc(desc);
        m.Sys.KernelCall("kho_restore_vmalloc", $"first 0x{desc.First:x}, {desc.TotalPages} pages", addr == 0 ? -(long)Errno.EINVAL : 0, null, addr == 0 ? "NULL" : $"0x{addr:x}");
        if (addr == 0) return Errno.EINVAL;
        var area = kho.Vmalloc.Find(addr)!;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(nr);
        uint csum = 0;
        for (uint i = 0; i < count; i++)
        {
            ulong off = (ulong)i * sizeof(ulong);
            int pg = (int)(off / PhysicalArena.PageSize);
            if (pg >= area.Pages.Count) break; // the array ends: the module would read past it
            ulong entry = kho.Arena.ReadU64(area.Pages[pg] + (off % PhysicalArena.PageSize));
            int order = (int)(entry & (PhysicalArena.PageSize - 1));
            ulong phys = entry & ~(ulong)(PhysicalArena.PageSize - 1);
            bool ok = kho.RestoreFolio(phys, out var folio);
            m.Sys.KernelCall("kho_restore_folio", $"0x{phys:x}", ok ? 0 : -(long)Errno.ENOENT, null, ok ? $"folio order {folio.Order}" : "NULL");
            if (!ok || folio.Order != order) break;
            var bytes = new byte[(long)PhysicalArena.PageSize << order];
            kho.Arena.Read(phys, bytes);
            csum = CsumPartial(bytes, csum);
            kho.FreeFolio(folio);
        }
        foreach (ulong p in area.Pages) kho.FreeFolio(new Folio(p >> PhysicalArena.PageShift, 0)); // vfree
        return csum == BinaryPrimitives.ReadUInt32LittleEndian(old) ? Errno.Ok : Errno.EINVAL;
    }

    /// <summary>csum_partial() of the generic lib/checksum.c: the 16-bit ones'-complement sum of the buffer
    /// (little-endian words) added to <paramref name="sum"/> with end-around carry. Buffers here are whole
    /// pages, so the odd-length and odd-address cases never arise.</summary>
    public static uint CsumPartial(ReadOnlySpan<byte> buffer, uint sum)
    {
        ulong acc = 0;
        int i = 0;
        for (; i + 4 <= buffer.Length; i += 4) acc += BinaryPrimitives.ReadUInt32LittleEndian(buffer[i..]);
        for (; i + 2 <= buffer.Length; i += 2) acc += BinaryPrimitives.ReadUInt16LittleEndian(buffer[i..]);
        if (i < buffer.Length) acc += buffer[i];
        while ((acc >> 16) != 0) acc = (acc & 0xFFFF) + (acc >> 16);
        uint result = (uint)acc + sum;
        if (sum > result) result++;
        return result;
    }
}
