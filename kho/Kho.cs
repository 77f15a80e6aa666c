using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Kho;

/// <summary>
/// One kernel instance's Kexec HandOver (kernel/liveupdate/kexec_handover.c) over a shared
/// <see cref="PhysicalArena"/>. Create the first kernel with <see cref="ColdBoot"/>; <see cref="Kexec"/>
/// hands over and retires this instance; <see cref="Boot"/> starts the next kernel from the handoff values.
/// Kernel-facing calls return <see cref="Errno"/> (the kernel returns its negative); WARN paths are recorded
/// in <see cref="Warnings"/>.
/// </summary>
public sealed partial class Kho
{
    /// <summary>KHO_PAGE_MAGIC "KHOP" (kho.md §3.1).</summary>
    public const uint PageMagic = 0x4B484F50;
    /// <summary>MAX_PAGE_ORDER.</summary>
    public const int MaxPageOrder = 10;
    /// <summary>Low memory reserved at every boot (firmware, pfn 0): [0, 1 MiB). Model choice.</summary>
    public const ulong BootReservedBytes = 1UL << 20;

    private readonly List<KhoWarningRecord> _warnings = [];
    private readonly List<PhysRange> _scratch = [];
    private RadixTree? _tree;
    private XarrayTracker? _xa;
    private bool _dead, _warnedNotInit, _warnedMagic;

    private Kho(PhysicalArena arena, KhoOptions options)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(options);
        Arena = arena;
        Options = options;
        Pages = new PageAllocator(arena);
        MemMap = new MemMap(arena.PageCount);
        Vmalloc = new VmallocSpace(Pages);
        Pages.Reserve(0, Math.Min(BootReservedBytes, arena.DramBytes));
    }

    /// <summary>The physical memory shared by all kernels.</summary>
    public PhysicalArena Arena { get; }
    /// <summary>This kernel's settings.</summary>
    public KhoOptions Options { get; }
    /// <summary>This kernel's page allocator and memblock.</summary>
    public PageAllocator Pages { get; }
    /// <summary>This kernel's struct pages.</summary>
    public MemMap MemMap { get; }
    /// <summary>This kernel's vmalloc space.</summary>
    public VmallocSpace Vmalloc { get; }
    /// <summary>Warnings (contract violations) so far, oldest first.</summary>
    public IReadOnlyList<KhoWarningRecord> Warnings => _warnings;
    /// <summary>kho_is_enabled().</summary>
    public bool IsEnabled => Options.Enabled && !ScratchFailed;
    /// <summary>True when cold-boot scratch allocation failed (KHO disabled for this boot, §1.2).</summary>
    public bool ScratchFailed { get; private set; }
    /// <summary>Current scratch array (passed to the next kernel unchanged).</summary>
    public IReadOnlyList<PhysRange> Scratch => _scratch;
    /// <summary>The outgoing radix tree (null for kho-v1 or when KHO is off).</summary>
    public RadixTree? Tree => _tree;
    /// <summary>The outgoing kho-v1 tracker (null otherwise).</summary>
    public XarrayTracker? Xarray => _xa;
    /// <summary>Physical address of the outgoing root FDT page (0 = none).</summary>
    public ulong FdtPhys { get; private set; }
    /// <summary>kexec_count of this boot (1 after a cold boot, §4.5).</summary>
    public uint KexecCount { get; private set; }
    /// <summary>previous_release read from the incoming kexec-metadata, or null.</summary>
    public string? PreviousRelease { get; private set; }
    /// <summary>Physical address of this kernel's kexec-metadata blob (0 = none).</summary>
    public ulong MetadataPhys { get; private set; }
    /// <summary>Pages handed over by restore calls (managed page count increase).</summary>
    public ulong RestoredPages { get; private set; }
    /// <summary>True once this instance has kexec'd: every further call throws.</summary>
    public bool IsDead => _dead;

    /// <summary>Boots the first kernel of a machine: scratch reservation (§1.2) and kho_init (§1.7 step 5).</summary>
    public static Kho ColdBoot(PhysicalArena arena, KhoOptions? options = null)
    {
        var k = new Kho(arena, options ?? new KhoOptions());
        k.Incoming = IncomingHandover.Rejected(KhoBootReject.NoHandoff, "cold boot");
        k.ReserveScratchColdBoot();
        k.KhoInit();
        return k;
    }

    private void CheckAlive()
    {
        if (_dead) throw new InvalidOperationException("this kernel instance has kexec'd; use the new instance");
    }

    private void Warn(KhoWarning kind, string function, ulong phys) => _warnings.Add(new KhoWarningRecord(kind, function, phys));

    /// <summary>kho_reserve_scratch(): places lowmem (below 4 GiB), global and per-node regions top-down with the
    /// variant's alignment. Sizes come from the options (the scaling of §1.2 is not modelled). Failure disables KHO.</summary>
    private void ReserveScratchColdBoot()
    {
        if (!Options.Enabled) return;
        ulong align = Options.ScratchAlignment;
        ulong[] sizes = [Options.ScratchLowBytes, Options.ScratchGlobalBytes, Options.ScratchPerNodeBytes];
        ulong[] limits = [Math.Min(Arena.DramBytes, 1UL << 32), Arena.DramBytes, Arena.DramBytes];
        var placed = new List<PhysRange>();
        for (int i = 0; i < 3; i++)
        {
            ulong size = (sizes[i] + align - 1) & ~(align - 1);
            ulong end = limits[i] & ~(align - 1);
            while (true)
            {
                if (size > end || end - size < BootReservedBytes) { ScratchFailed = true; return; }
                var cand = new PhysRange(end - size, end);
                var hit = placed.FirstOrDefault(p => p.Overlaps(cand));
                if (hit.End == 0) { placed.Add(cand); break; }
                end = hit.Start & ~(align - 1);
            }
        }
        foreach (var r in placed) { _scratch.Add(r); Pages.AddScratch(r); }
    }

    /// <summary>kho_init(): outgoing tree root, root FDT page (kho_alloc_preserve, N: DMA32) built with
    /// sequential-write calls, then kexec-metadata (§1.7 step 5, §4.3–§4.5). kho-v1 only creates its tracker.
    /// Any failure leaves KHO without a tree (preserve calls then fail with -EINVAL).</summary>
    private void KhoInit()
    {
        if (!IsEnabled) return;
        if (Options.Variant == KhoVariant.KhoV1)
        {
            _xa = new XarrayTracker(Arena, Pages);
            KexecCount = 0;
            return;
        }
        _tree = RadixTree.Create(Arena, Pages);
        if (_tree is null) return;
        var flags = Options.Variant == KhoVariant.N ? AllocFlags.Dma32 : AllocFlags.None;
        if (AllocPreserveCore(PhysicalArena.PageSize, flags, out ulong fdt) != Errno.Ok) { _tree = null; return; }
        byte[] page = Arena.PageForWrite(fdt >> PhysicalArena.PageShift);
        if (KhoFdt.BuildRoot(page, Options.EffectiveCompatible, _tree.Root) != 0) { _tree = null; return; }
        FdtPhys = fdt;
        WriteKexecMetadata();
    }

    /// <summary>kho_kexec_metadata_init(): reads the incoming blob (blob-size ≥ 4, version 1, blob-size ≥ 73,
    /// else ignored) and publishes a new one with kexec_count + 1 (§4.5).</summary>
    private void WriteKexecMetadata()
    {
        uint prev = 0;
        Span<byte> m = stackalloc byte[KhoKexecMetadata.SizeOf];
        if (Incoming.IsKhoBoot && RetrieveSubtree(KhoKexecMetadata.Name, out ulong ip, out ulong isz) == Errno.Ok
            && isz >= 4 && Arena.TryRead(ip, m[..4])
            && BinaryPrimitives.ReadUInt32LittleEndian(m) == 1 && isz >= KhoKexecMetadata.SizeOf && Arena.TryRead(ip, m))
        {
            prev = BinaryPrimitives.ReadUInt32LittleEndian(m[KhoKexecMetadata.KexecCountOffset..]);
            var rel = m.Slice(KhoKexecMetadata.ReleaseOffset, KhoKexecMetadata.ReleaseLength);
            int z = rel.IndexOf((byte)0);
            PreviousRelease = Encoding.ASCII.GetString(z < 0 ? rel : rel[..z]);
        }
        KexecCount = prev + 1;
        if (AllocPreserveCore(KhoKexecMetadata.SizeOf, AllocFlags.None, out ulong d) != Errno.Ok) return;
        Span<byte> blob = stackalloc byte[KhoKexecMetadata.SizeOf];
        blob.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(blob[KhoKexecMetadata.VersionOffset..], 1);
        byte[] rel2 = Encoding.ASCII.GetBytes(Options.UtsRelease);
        rel2.AsSpan(0, Math.Min(rel2.Length, KhoKexecMetadata.ReleaseLength - 1)).CopyTo(blob[KhoKexecMetadata.ReleaseOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(blob[KhoKexecMetadata.KexecCountOffset..], KexecCount);
        Arena.Write(d, blob);
        MetadataPhys = d;
        if (AddSubtree(KhoKexecMetadata.Name, d, KhoKexecMetadata.SizeOf) != Errno.Ok)
        {
            UnpreserveFree(d);
            MetadataPhys = 0;
        }
    }

    /// <summary>Shared body of kho_alloc_preserve (§2.8) with allocation flags.</summary>
    private Errno AllocPreserveCore(ulong size, AllocFlags flags, out ulong phys)
    {
        phys = 0;
        if (size == 0) return Errno.EINVAL;
        int order = GetOrder(size);
        if (order > MaxPageOrder) return Errno.E2BIG;
        if (!Pages.TryAlloc(order, flags | AllocFlags.Zeroed, out ulong pfn)) return Errno.ENOMEM;
        MemMap.SetRefCount(pfn, 1);
        MemMap.SetOrder(pfn, order);
        Errno rc = PreserveFolio(new Folio(pfn, order));
        if (rc != Errno.Ok)
        {
            MemMap.SetRefCount(pfn, 0);
            Pages.Free(pfn, order);
            return rc;
        }
        _allocPreserved[pfn] = order;
        phys = pfn << PhysicalArena.PageShift;
        return Errno.Ok;
    }

    private readonly Dictionary<ulong, int> _allocPreserved = [];

    /// <summary>get_order(): smallest o with 4096 &lt;&lt; o ≥ size.</summary>
    public static int GetOrder(ulong size)
    {
        int o = 0;
        while (((ulong)PhysicalArena.PageSize << o) < size) o++;
        return o;
    }
}
