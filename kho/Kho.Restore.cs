namespace LuoModel.Kho;

public sealed partial class Kho
{
    /// <summary>Shared page restore (kho_restore_page()): checks the KHOP magic of the head's private (WARN once
    /// and fail otherwise), clears it, and sets refcounts: folio → head 1, tails 0, compound order; pages →
    /// every page of the stored order 1. kho-v1 also rejects a stored order above MAX_PAGE_ORDER (§2.9).</summary>
    private bool RestorePage(ulong pfn, bool isFolio, string fn, out int order)
    {
        order = 0;
        if (!MemMap.IsValid(pfn)) return false;
        ulong priv = MemMap.GetPrivate(pfn);
        if ((priv >> 32) != PageMagic)
        {
            if (!_warnedMagic) Warn(KhoWarning.RestoreBadMagic, fn, pfn << PhysicalArena.PageShift);
            _warnedMagic = true;
            return false;
        }
        order = (int)(uint)priv;
        if (Options.Variant == KhoVariant.KhoV1 && order > MaxPageOrder) return false;
        MemMap.SetPrivate(pfn, 0);
        ulong n = order >= 63 ? ulong.MaxValue : 1UL << order;
        ulong last = Math.Min(MemMap.PageCount, pfn + n < pfn ? ulong.MaxValue : pfn + n);
        for (ulong p = pfn; p < last; p++) MemMap.SetRefCount(p, isFolio && p != pfn ? 0 : 1);
        if (isFolio)
        {
            MemMap.SetOrder(pfn, order);
            if (order > 0) MemMap.SetFlags(pfn, MemMap.GetFlags(pfn) | PageFlags.Head);
        }
        RestoredPages += last - pfn;
        return true;
    }

    /// <summary>kho_restore_folio() (§2.9): the folio at pfn(phys) (low 12 bits ignored) if its head carries
    /// the magic; returns false (NULL) for never-preserved, tail, already-restored or out-of-memory pages.
    /// The stored order is returned as is.</summary>
    public bool RestoreFolio(ulong phys, out Folio folio)
    {
        CheckAlive();
        ulong pfn = phys >> PhysicalArena.PageShift;
        bool ok = RestorePage(pfn, true, "kho_restore_folio", out int order);
        folio = ok ? new Folio(pfn, order) : default;
        return ok;
    }

    /// <summary>kho_restore_pages() (§2.10): walks the greedy split without NUMA reduction and restores each
    /// computed head with the stored order, advancing by the computed size. Fails (false) at the first head
    /// without magic; earlier blocks stay restored (no rollback). A stored order larger than computed restores
    /// the whole stored block; a smaller one leaves the rest silently unrestored. pfn 0 with nr &gt; 0 is
    /// undefined in the kernel and rejected here (warning, false).</summary>
    public bool RestorePages(ulong phys, ulong nrPages)
    {
        CheckAlive();
        ulong pfn = phys >> PhysicalArena.PageShift;
        if (nrPages == 0) return true;
        if (pfn == 0) { Warn(KhoWarning.UndefinedPfnZero, "kho_restore_pages", 0); return false; }
        if (nrPages > ulong.MaxValue - pfn) return false;
        ulong end = pfn + nrPages;
        for (ulong p = pfn; p < end;)
        {
            int order = SplitOrder(p, end);
            if (!RestorePage(p, false, "kho_restore_pages", out _)) return false;
            p += 1UL << order;
        }
        return true;
    }

    /// <summary>kho_restore_free() (§2.8): 0 → no-op; else restores the folio at the address and frees it; WARN
    /// when the restore fails.</summary>
    public void RestoreFree(ulong phys)
    {
        CheckAlive();
        if (phys == 0) return;
        if (!RestoreFolio(phys, out var f)) { Warn(KhoWarning.RestoreFreeFailed, "kho_restore_free", phys); return; }
        FreeFolio(f);
    }

    /// <summary>folio_put() to zero: clears the refcounts and returns the block to the allocator.</summary>
    public void FreeFolio(Folio folio)
    {
        CheckAlive();
        MemMap.SetRefCount(folio.Pfn, 0);
        MemMap.SetFlags(folio.Pfn, MemMap.GetFlags(folio.Pfn) & ~(PageFlags.Head | PageFlags.NoInit | PageFlags.Reserved));
        Pages.Free(folio.Pfn, folio.Order);
    }
}
