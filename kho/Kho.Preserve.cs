using System.Numerics;

namespace LuoModel.Kho;

public sealed partial class Kho
{
    /// <summary>kho-v1 only: kho_finalize() has run and not been aborted (§1.5).</summary>
    public bool Finalized { get; private set; }

    private bool HasTracker => _tree is not null || _xa is not null;

    private bool ScratchOverlap(ulong phys, ulong size)
    {
        if (!Options.DebugScratchCheck) return false;
        foreach (var s in _scratch)
            if (phys < s.End && unchecked(phys + size) > s.Start) return true;
        return false;
    }

    private Errno TrackerAdd(ulong pfn, int order) =>
        _tree is not null ? _tree.Add(RadixKey.Encode(pfn << PhysicalArena.PageShift, order)) : _xa!.Add(pfn, order);

    /// <summary>Clears a key; false when the radix path is missing (WARN).</summary>
    private bool TrackerDel(ulong pfn, int order)
    {
        if (_tree is not null) return _tree.Del(RadixKey.Encode(pfn << PhysicalArena.PageShift, order));
        _xa!.Del(pfn, order);
        return true;
    }

    private Errno PreserveCheck(string fn, ulong phys, ulong size)
    {
        if (!HasTracker)
        {
            if (!_warnedNotInit) Warn(KhoWarning.NotInitialized, fn, phys);
            _warnedNotInit = true;
            return Errno.EINVAL;
        }
        if (Finalized) return Errno.EBUSY;
        if (ScratchOverlap(phys, size)) { Warn(KhoWarning.ScratchOverlap, fn, phys); return Errno.EINVAL; }
        return Errno.Ok;
    }

    /// <summary>kho_preserve_folio(): records (pfn, order); idempotent; -EINVAL without a tree or on a debug
    /// scratch overlap, -ENOMEM when a node page cannot be allocated, -EBUSY while finalized (kho-v1) (§2.1).</summary>
    public Errno PreserveFolio(Folio folio)
    {
        CheckAlive();
        CheckFolio(folio);
        Errno rc = PreserveCheck("kho_preserve_folio", folio.Phys, folio.Size);
        return rc != Errno.Ok ? rc : TrackerAdd(folio.Pfn, folio.Order);
    }

    /// <summary>kho_unpreserve_folio(): clears exactly (pfn, order); a missing path is a WARN, a clear bit a
    /// silent no-op (§2.2). kho-v1 returns -EBUSY while finalized (48a1b232 returned int).</summary>
    public Errno UnpreserveFolio(Folio folio)
    {
        CheckAlive();
        CheckFolio(folio);
        if (!HasTracker) { Warn(KhoWarning.NotInitialized, "kho_unpreserve_folio", folio.Phys); return Errno.Ok; }
        if (Finalized) return Errno.EBUSY;
        if (!TrackerDel(folio.Pfn, folio.Order)) Warn(KhoWarning.UnpreserveMissingPath, "kho_unpreserve_folio", folio.Phys);
        return Errno.Ok;
    }

    private void CheckFolio(Folio f)
    {
        if (f.Order is < 0 or > RadixKey.MaxOrder) throw new ArgumentOutOfRangeException(nameof(f), f, "order out of range");
        if ((f.Pfn & ((1UL << f.Order) - 1)) != 0) throw new ArgumentException($"{f} is not naturally aligned", nameof(f));
    }

    /// <summary>Order of the next block of the greedy split (§2.3): min(ctz(pfn), floor(log2(end − pfn))),
    /// single memory node (no NUMA reduction).</summary>
    public static int SplitOrder(ulong pfn, ulong end) =>
        Math.Min(BitOperations.TrailingZeroCount(pfn), 63 - BitOperations.LeadingZeroCount(end - pfn));

    /// <summary>kho_preserve_pages(): greedy decomposition into aligned blocks (§2.3); all-or-nothing on the key
    /// set (node pages allocated meanwhile stay). nr 0 → 0. A run starting at pfn 0 is undefined in the kernel
    /// and rejected here with -EINVAL (issue 4).</summary>
    public Errno PreservePages(ulong pfn, ulong nrPages)
    {
        CheckAlive();
        const string fn = "kho_preserve_pages";
        if (nrPages > Arena.PageCount || pfn > Arena.PageCount - nrPages) throw new ArgumentOutOfRangeException(nameof(nrPages), $"pages 0x{pfn:x}+{nrPages} outside DRAM");
        if (ScratchOverlap(pfn << PhysicalArena.PageShift, nrPages << PhysicalArena.PageShift) && HasTracker)
        {
            Warn(KhoWarning.ScratchOverlap, fn, pfn << PhysicalArena.PageShift);
            return Errno.EINVAL;
        }
        if (nrPages == 0) return Errno.Ok;
        if (pfn == 0) { Warn(KhoWarning.UndefinedPfnZero, fn, 0); return Errno.EINVAL; }
        Errno rc = PreserveCheck(fn, pfn << PhysicalArena.PageShift, 0);
        if (rc != Errno.Ok) return rc;
        ulong end = pfn + nrPages, p = pfn;
        while (p < end)
        {
            int order = SplitOrder(p, end);
            rc = TrackerAdd(p, order);
            if (rc != Errno.Ok)
            {
                if (Fault != KhoFault.NoRollback)
                    for (ulong q = pfn; q < p;) { int o = SplitOrder(q, p); TrackerDel(q, o); q += 1UL << o; } // __kho_unpreserve(start, failed)
                return rc;
            }
            p += 1UL << order;
        }
        return Errno.Ok;
    }

    /// <summary>kho_unpreserve_pages(): recomputes the split and clears each key (§2.4); only the exact
    /// (start, nr) used for preserve removes what preserve added.</summary>
    public Errno UnpreservePages(ulong pfn, ulong nrPages)
    {
        CheckAlive();
        const string fn = "kho_unpreserve_pages";
        if (nrPages > Arena.PageCount || pfn > Arena.PageCount - nrPages) throw new ArgumentOutOfRangeException(nameof(nrPages), $"pages 0x{pfn:x}+{nrPages} outside DRAM");
        if (!HasTracker) { Warn(KhoWarning.NotInitialized, fn, pfn << PhysicalArena.PageShift); return Errno.Ok; }
        if (Finalized) return Errno.EBUSY;
        if (nrPages == 0) return Errno.Ok;
        if (pfn == 0) { Warn(KhoWarning.UndefinedPfnZero, fn, 0); return Errno.EINVAL; }
        ulong end = pfn + nrPages;
        for (ulong p = pfn; p < end;)
        {
            int order = SplitOrder(p, end);
            if (!TrackerDel(p, order)) Warn(KhoWarning.UnpreserveMissingPath, fn, p << PhysicalArena.PageShift);
            p += 1UL << order;
        }
        return Errno.Ok;
    }

    /// <summary>kho_alloc_preserve(): zeroed folio of get_order(size), preserved; returns its physical address
    /// (the model's pointer). -EINVAL for size 0 (or no tree), -E2BIG above MAX_PAGE_ORDER, -ENOMEM (§2.8).</summary>
    public Errno AllocPreserve(ulong size, out ulong phys)
    {
        CheckAlive();
        return AllocPreserveCore(size, AllocFlags.None, out phys);
    }

    /// <summary>kho_unpreserve_free(): 0 → no-op; else unpreserves the folio and frees it (§2.8).</summary>
    public void UnpreserveFree(ulong phys)
    {
        CheckAlive();
        if (phys == 0) return;
        ulong pfn = phys >> PhysicalArena.PageShift;
        if (!_allocPreserved.Remove(pfn, out int order)) { Warn(KhoWarning.NotAnAllocPreserveFolio, "kho_unpreserve_free", phys); return; }
        UnpreserveFolio(new Folio(pfn, order));
        MemMap.SetRefCount(pfn, 0);
        Pages.Free(pfn, order);
    }

    /// <summary>The outgoing key set as (phys, order) in walk order (descending order, ascending address);
    /// kho-v1: by order then address.</summary>
    public List<(ulong Phys, int Order)> PreservedBlocks()
    {
        var list = new List<(ulong, int)>();
        if (_tree is not null)
        {
            var v = new CollectVisitor(list);
            _tree.Walk(ref v);
        }
        else if (_xa is not null)
            foreach (var (pfn, order) in _xa.Keys()) list.Add((pfn << PhysicalArena.PageShift, order));
        return list;
    }

    private readonly struct CollectVisitor(List<(ulong, int)> list) : IRadixVisitor
    {
        public int Node(ulong phys, int level) => 0;
        public int Key(ulong key)
        {
            if (RadixKey.TryDecode(key, out ulong p, out int o)) list.Add((p, o));
            return 0;
        }
    }

    /// <summary>Test hook for the broken-tracker demonstrations (never set by the model itself).</summary>
    internal KhoFault Fault
    {
        get => _fault;
        set
        {
            _fault = value;
            if (_tree is not null)
                _tree.Fault = value switch
                {
                    KhoFault.DropKeys => RadixFault.DropOddLeafBits,
                    KhoFault.DelClearsNeighbour => RadixFault.DelClearsNeighbour,
                    KhoFault.RandomPlacement => RadixFault.RandomPlacement,
                    _ => RadixFault.None,
                };
        }
    }

    private KhoFault _fault;
}

/// <summary>Deliberate bugs used only by tests to show that properties can fail.</summary>
internal enum KhoFault
{
    None,
    /// <summary>The tree drops some keys on add.</summary>
    DropKeys,
    /// <summary>Delete clears a neighbouring bit.</summary>
    DelClearsNeighbour,
    /// <summary>A failed preserve_pages keeps the blocks added before the failure.</summary>
    NoRollback,
    /// <summary>Kexec does not stamp the last preserved block.</summary>
    LoseLastBlockAtKexec,
    /// <summary>Node pages are placed nondeterministically.</summary>
    RandomPlacement,
}
