namespace LuoModel.Kho;

/// <summary>vm_struct flags relevant to KHO (kho.md §2.5).</summary>
[Flags]
public enum VmFlags
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>VM_ALLOC: vmalloc().</summary>
    Alloc = 0x2,
    /// <summary>VM_MAP: vmap().</summary>
    Map = 0x4,
    /// <summary>VM_USERMAP: vmalloc_user().</summary>
    UserMap = 0x8,
    /// <summary>VM_IOREMAP.</summary>
    IoRemap = 0x1,
    /// <summary>VM_ALLOW_HUGE_VMAP.</summary>
    AllowHugeVmap = 0x400,
}

/// <summary>A vmalloc area: virtual address, flags, page order and the physical address of every page.</summary>
public sealed class VmArea
{
    internal VmArea(ulong addr, VmFlags flags, int pageOrder, ulong[] pages)
    {
        Addr = addr;
        Flags = flags;
        PageOrder = pageOrder;
        Pages = pages;
    }

    /// <summary>Start address.</summary>
    public ulong Addr { get; }
    /// <summary>vm_struct flags.</summary>
    public VmFlags Flags { get; }
    /// <summary>vm_area_page_order().</summary>
    public int PageOrder { get; }
    /// <summary>Physical address of each page, in mapping order (nr_pages entries).</summary>
    public IReadOnlyList<ulong> Pages { get; }
    /// <summary>Size in bytes.</summary>
    public ulong Size => (ulong)Pages.Count * PhysicalArena.PageSize;
}

/// <summary>The per-kernel vmalloc address space (enough of it for kho_preserve_vmalloc and restore).</summary>
public sealed class VmallocSpace
{
    /// <summary>VMALLOC_START of the model.</summary>
    public const ulong Start = 0xFFFF_C900_0000_0000;
    private readonly PageAllocator _alloc;
    private readonly Dictionary<ulong, VmArea> _areas = []; // exact-address lookups; areas never overlap
    private ulong _next = Start;

    internal VmallocSpace(PageAllocator alloc) => _alloc = alloc;

    /// <summary>vmalloc()-like allocation of <paramref name="pages"/> pages in blocks of 2^order (non-zeroed);
    /// returns the address or 0 when memory runs out (nothing leaks).</summary>
    public ulong Allocate(int pages, VmFlags flags = VmFlags.Alloc, int pageOrder = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        int step = 1 << pageOrder;
        if (pages % step != 0) throw new ArgumentException("page count must be a multiple of the block size", nameof(pages));
        var phys = new ulong[pages];
        for (int i = 0; i < pages; i += step)
        {
            if (!_alloc.TryAlloc(pageOrder, AllocFlags.None, out ulong pfn))
            {
                for (int j = 0; j < i; j += step) _alloc.Free(phys[j] >> PhysicalArena.PageShift, pageOrder);
                return 0;
            }
            for (int j = 0; j < step; j++) phys[i + j] = (pfn + (ulong)j) << PhysicalArena.PageShift;
        }
        return Map(phys, flags, pageOrder);
    }

    /// <summary>Maps existing pages at a fresh address aligned to the block size (vmap of restored pages).</summary>
    public ulong Map(ulong[] phys, VmFlags flags, int pageOrder)
    {
        ArgumentNullException.ThrowIfNull(phys);
        ulong align = (ulong)PhysicalArena.PageSize << pageOrder;
        ulong addr = (_next + align - 1) & ~(align - 1);
        _areas[addr] = new VmArea(addr, flags, pageOrder, phys);
        _next = addr + (ulong)phys.Length * PhysicalArena.PageSize + PhysicalArena.PageSize; // guard page
        return addr;
    }

    /// <summary>remove_vm_area(): takes the area starting at <paramref name="addr"/> out of the address space (the
    /// unmapping half of vfree(); the caller frees the pages). False if no area starts there.</summary>
    public bool Unmap(ulong addr) => _areas.Remove(addr);

    /// <summary>find_vm_area(): the area starting at <paramref name="addr"/>, or null.</summary>
    public VmArea? Find(ulong addr) => _areas.GetValueOrDefault(addr);

    /// <summary>Physical address behind a vmalloc address (vmalloc_to_page), or null.</summary>
    public ulong? ToPhys(ulong addr)
    {
        foreach (var a in _areas.Values)
            if (addr >= a.Addr && addr < a.Addr + a.Size)
                return a.Pages[(int)((addr - a.Addr) >> PhysicalArena.PageShift)] + (addr & (PhysicalArena.PageSize - 1));
        return null;
    }
}
