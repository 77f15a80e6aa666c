using System.Numerics;

namespace LuoModel.Kho;

/// <summary>How an allocation may be placed.</summary>
[Flags]
public enum AllocFlags
{
    /// <summary>Unmovable kernel memory: never placed in scratch (scratch is MIGRATE_CMA, kho.md §1.2).</summary>
    None = 0,
    /// <summary>__GFP_ZERO.</summary>
    Zeroed = 1,
    /// <summary>Movable memory: may use scratch regions, which are tried first.</summary>
    Movable = 2,
    /// <summary>GFP_DMA32: below 4 GiB.</summary>
    Dma32 = 4,
}

/// <summary>
/// Per-kernel page allocator over an arena: memblock-style reservations plus a deterministic lowest-address
/// allocator of naturally aligned 2^order blocks. In scratch-only mode (kho.md §1.2, early boot of a KHO
/// kernel) every allocation comes from the scratch regions. Allocation failure can be injected for tests.
/// </summary>
public sealed class PageAllocator
{
    private readonly ulong[] _used;
    private readonly List<PhysRange> _scratch = [];
    private readonly List<PhysRange> _reserved = [];
    private ulong _hint; // every pfn below _hint is in use
    private int _failAfter = -1, _failCount;

    /// <summary>Creates an allocator for <paramref name="arena"/> with everything free.</summary>
    public PageAllocator(PhysicalArena arena)
    {
        ArgumentNullException.ThrowIfNull(arena);
        Arena = arena;
        PageCount = arena.PageCount;
        _used = new ulong[(int)((PageCount + 63) / 64)];
    }

    /// <summary>The arena.</summary>
    public PhysicalArena Arena { get; }
    /// <summary>Number of pages.</summary>
    public ulong PageCount { get; }
    /// <summary>Scratch regions known to this kernel (KHO_SCRATCH memblock regions).</summary>
    public IReadOnlyList<PhysRange> Scratch => _scratch;
    /// <summary>memblock.reserved as recorded by <see cref="Reserve"/>, in call order; a reservation that starts where
    /// the previous one ends extends it (memblock merges adjacent regions too), so the incoming kernel's
    /// hundreds of thousands of preserved order-0 pages stay a handful of ranges.</summary>
    public IReadOnlyList<PhysRange> Reserved => _reserved;
    /// <summary>memblock_set_kho_scratch_only(): allocations only from scratch.</summary>
    public bool ScratchOnly { get; set; }
    /// <summary>Number of successful allocations so far.</summary>
    public long Allocations { get; private set; }
    /// <summary>Pages currently in use (allocated or reserved inside DRAM).</summary>
    public ulong UsedPages { get; private set; }

    /// <summary>Makes allocation number <paramref name="succeedFirst"/> (0-based, counted from now) and the
    /// <paramref name="failCount"/>-1 after it fail; -1 disables injection.</summary>
    public void InjectFailure(int succeedFirst, int failCount = 1)
    {
        _failAfter = succeedFirst;
        _failCount = failCount;
    }

    /// <summary>memblock_mark_kho_scratch(): records a scratch region.</summary>
    public void AddScratch(PhysRange r) => _scratch.Add(r);

    /// <summary>memblock_reserve(): marks the DRAM part of the range used; ranges beyond DRAM are only recorded.</summary>
    public void Reserve(ulong phys, ulong size)
    {
        ulong end = size > ulong.MaxValue - phys ? ulong.MaxValue : phys + size;
        if (_reserved.Count > 0 && _reserved[^1].End == phys && phys < end) _reserved[^1] = _reserved[^1] with { End = end };
        else _reserved.Add(new PhysRange(phys, end));
        ulong first = phys >> PhysicalArena.PageShift;
        ulong last = Math.Min((end + PhysicalArena.PageSize - 1) >> PhysicalArena.PageShift, PageCount);
        for (ulong p = first; p < last; p++) SetUsed(p);
    }

    /// <summary>True when the page is allocated or reserved.</summary>
    public bool IsUsed(ulong pfn) => pfn < PageCount && (_used[(int)(pfn >> 6)] & (1UL << (int)(pfn & 63))) != 0;

    private void SetUsed(ulong pfn)
    {
        ref ulong w = ref _used[(int)(pfn >> 6)];
        ulong m = 1UL << (int)(pfn & 63);
        if ((w & m) == 0) { w |= m; UsedPages++; }
        if (pfn == _hint) while (_hint < PageCount && IsUsed(_hint)) _hint++;
    }

    /// <summary>alloc_pages(): lowest free naturally aligned block of 2^order pages allowed by the flags.</summary>
    public bool TryAlloc(int order, AllocFlags flags, out ulong pfn)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(order);
        pfn = 0;
        if (_failAfter >= 0)
        {
            if (_failAfter == 0)
            {
                if (--_failCount <= 0) _failAfter = -1;
                return false;
            }
            _failAfter--;
        }
        bool found;
        if (ScratchOnly) found = SearchRanges(_scratch, order, flags, out pfn);
        else if ((flags & AllocFlags.Movable) != 0)
            found = SearchRanges(_scratch, order, flags, out pfn) || SearchOutsideScratch(order, flags, out pfn);
        else found = SearchOutsideScratch(order, flags, out pfn);
        if (!found) return false;
        ulong n = 1UL << order;
        for (ulong p = pfn; p < pfn + n; p++) SetUsed(p);
        Allocations++;
        if ((flags & AllocFlags.Zeroed) != 0) Arena.Fill(pfn << PhysicalArena.PageShift, n << PhysicalArena.PageShift, 0);
        return true;
    }

    /// <summary>__free_pages(): returns a block to the allocator.</summary>
    public void Free(ulong pfn, int order)
    {
        ulong n = 1UL << order;
        for (ulong p = pfn; p < pfn + n && p < PageCount; p++)
        {
            ref ulong w = ref _used[(int)(p >> 6)];
            ulong m = 1UL << (int)(p & 63);
            if ((w & m) != 0) { w &= ~m; UsedPages--; }
        }
        if (pfn < _hint) _hint = pfn;
    }

    private bool SearchOutsideScratch(int order, AllocFlags flags, out ulong pfn)
    {
        ulong limit = (flags & AllocFlags.Dma32) != 0 ? Math.Min(PageCount, 1UL << 20) : PageCount;
        ulong start = _hint;
        while (true)
        {
            if (!SearchRange(start, limit, order, out pfn)) return false;
            int hit = -1;
            for (int i = 0; i < _scratch.Count; i++)
                if (_scratch[i].Overlaps(new PhysRange(pfn << 12, (pfn + (1UL << order)) << 12))) { hit = i; break; }
            if (hit < 0) return true;
            // resume at the first page past the region, rounding up: a region ending inside a page (an incoming
            // scratch entry need not be page-aligned) would otherwise be hit again forever (fuzz finding 3)
            start = (_scratch[hit].End >> 12) + ((_scratch[hit].End & 0xFFF) != 0 ? 1UL : 0);
        }
    }

    private bool SearchRanges(List<PhysRange> ranges, int order, AllocFlags flags, out ulong pfn)
    {
        ulong limit = (flags & AllocFlags.Dma32) != 0 ? Math.Min(PageCount, 1UL << 20) : PageCount;
        foreach (var r in ranges)
            if (SearchRange(Math.Max(r.Start >> 12, _hint), Math.Min(r.End >> 12, limit), order, out pfn)) return true;
        pfn = 0;
        return false;
    }

    /// <summary>Lowest aligned free block in [start, end).</summary>
    private bool SearchRange(ulong start, ulong end, int order, out ulong pfn)
    {
        ulong n = 1UL << order;
        ulong p = (start + n - 1) & ~(n - 1);
        while (p + n <= end && p + n > p)
        {
            ulong busy = FirstUsedIn(p, p + n);
            if (busy == ulong.MaxValue) { pfn = p; return true; }
            p = ((busy + n) & ~(n - 1));
            if (order == 0) p = NextFree(busy + 1, end);
        }
        pfn = 0;
        return false;
    }

    private ulong NextFree(ulong p, ulong end)
    {
        while (p < end)
        {
            ulong w = ~_used[(int)(p >> 6)] >> (int)(p & 63);
            if (w != 0) return p + (ulong)BitOperations.TrailingZeroCount(w);
            p = (p | 63) + 1;
        }
        return end;
    }

    private ulong FirstUsedIn(ulong p, ulong end)
    {
        while (p < end)
        {
            int bit = (int)(p & 63);
            ulong w = _used[(int)(p >> 6)] >> bit;
            int span = (int)Math.Min(64UL - (ulong)bit, end - p);
            if (span < 64) w &= (1UL << span) - 1;
            if (w != 0) return p + (ulong)BitOperations.TrailingZeroCount(w);
            p += (ulong)span;
        }
        return ulong.MaxValue;
    }
}
