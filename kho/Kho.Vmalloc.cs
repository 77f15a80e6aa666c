namespace LuoModel.Kho;

public sealed partial class Kho
{
    /// <summary>new_vmalloc_chunk(): zeroed page preserved with kho_preserve_pages(chunk, 1), linked from
    /// <paramref name="cur"/>; 0 on failure (page freed).</summary>
    private ulong NewVmallocChunk(ulong cur)
    {
        if (!Pages.TryAlloc(0, AllocFlags.Zeroed, out ulong pfn)) return 0;
        if (PreservePages(pfn, 1) != Errno.Ok) { Pages.Free(pfn, 0); return 0; }
        ulong phys = pfn << PhysicalArena.PageShift;
        if (cur != 0) Arena.WriteU64(cur + KhoVmallocChunk.NextOffset, phys);
        return phys;
    }

    /// <summary>kho_vmalloc_unpreserve_chunk()/free chain: unpreserves every chunk page and every listed block
    /// (2^order pages, order taken from <paramref name="desc"/> as the kernel does), frees the chunk pages.</summary>
    private void FreeVmallocChain(in KhoVmalloc desc)
    {
        var seen = new HashSet<ulong>();
        for (ulong c = desc.First; c != 0 && Arena.Contains(c, PhysicalArena.PageSize) && seen.Add(c);)
        {
            UnpreservePages(c >> PhysicalArena.PageShift, 1);
            for (int i = 0; i < KhoVmallocChunk.Entries; i++)
            {
                ulong p = Arena.ReadU64(c + KhoVmallocChunk.PhysOffset + 8UL * (uint)i);
                if (p == 0) break;
                UnpreservePages(p >> PhysicalArena.PageShift, 1UL << desc.Order);
            }
            ulong next = Arena.ReadU64(c + KhoVmallocChunk.NextOffset);
            Pages.Free(c >> PhysicalArena.PageShift, 0);
            c = next;
        }
    }

    /// <summary>kho_preserve_vmalloc(ptr, desc) (§2.5): -EINVAL when no area starts at ptr, -EOPNOTSUPP for
    /// areas other than VM_ALLOC / VM_ALLOW_HUGE_VMAP, -ENOMEM when the first chunk cannot be preserved.
    /// Records each 2^order block with kho_preserve_pages and lists it in chained 511-slot chunks (a new chunk
    /// is linked as soon as one fills). On a later failure everything reachable from desc.First is unpreserved
    /// using the caller's stale desc.Order and the error is returned; First stays stale; total_pages, flags and
    /// order are written only on success.</summary>
    public Errno PreserveVmalloc(ulong ptr, ref KhoVmalloc desc)
    {
        CheckAlive();
        var area = Vmalloc.Find(ptr);
        if (area is null) return Errno.EINVAL;
        if ((area.Flags & ~(VmFlags.Alloc | VmFlags.AllowHugeVmap)) != 0) return Errno.EOPNOTSUPP;
        int order = area.PageOrder;
        ulong chunk = NewVmallocChunk(0);
        if (chunk == 0) return Errno.ENOMEM;
        desc.First = chunk;
        int idx = 0;
        Errno err = Errno.Ok;
        for (int i = 0; i < area.Pages.Count; i += 1 << order)
        {
            ulong phys = area.Pages[i];
            err = PreservePages(phys >> PhysicalArena.PageShift, 1UL << order);
            if (err != Errno.Ok) break;
            Arena.WriteU64(chunk + KhoVmallocChunk.PhysOffset + 8UL * (uint)idx++, phys);
            if (idx == KhoVmallocChunk.Entries)
            {
                chunk = NewVmallocChunk(chunk);
                if (chunk == 0) { err = Errno.ENOMEM; break; }
                idx = 0;
            }
        }
        if (err != Errno.Ok)
        {
            FreeVmallocChain(desc);
            return err;
        }
        desc.TotalPages = (uint)area.Pages.Count;
        desc.Flags = (ushort)(((area.Flags & VmFlags.Alloc) != 0 ? KhoVmalloc.FlagAlloc : 0)
            | ((area.Flags & VmFlags.AllowHugeVmap) != 0 ? KhoVmalloc.FlagHugeVmap : 0));
        desc.Order = (ushort)order;
        return Errno.Ok;
    }

    /// <summary>kho_unpreserve_vmalloc(desc) (§2.6): unpreserves chunks and listed blocks, frees the chunk pages;
    /// the vmalloc memory itself stays.</summary>
    public void UnpreserveVmalloc(in KhoVmalloc desc)
    {
        CheckAlive();
        FreeVmallocChain(desc);
    }

    /// <summary>kho_restore_vmalloc(desc) (§2.7) in the new kernel: restores each listed block with
    /// kho_restore_pages(phys, 2^order) and each chunk page (then freed), maps the pages (page-aligned, as
    /// struct pages: a slot's in-page offset bits are ignored) in list order at a
    /// fresh address and returns it; 0 (NULL) if a block would overflow total_pages, a restore fails, the
    /// count differs from total_pages, or (model) a chunk pointer is outside memory or repeats. Not
    /// transactional: pages restored before a failure stay restored.</summary>
    public ulong RestoreVmalloc(in KhoVmalloc desc)
    {
        if (desc.TotalPages > Arena.PageCount) return 0; // page array allocation fails
        var pages = new ulong[desc.TotalPages];
        if (!RestoreVmallocPages(desc, pages)) return 0;
        var flags = ((desc.Flags & KhoVmalloc.FlagAlloc) != 0 ? VmFlags.Alloc : VmFlags.None)
            | ((desc.Flags & KhoVmalloc.FlagHugeVmap) != 0 ? VmFlags.AllowHugeVmap : VmFlags.None);
        return Vmalloc.Map(pages, flags, desc.Order);
    }

    /// <summary>The restore half of <see cref="RestoreVmalloc"/> without the mapping, for a caller that reads the
    /// pages and frees them straight away (memfd retrieve reads its folio array once and vfree()s it): the same
    /// pages are restored, the same chunk pages freed and the same descriptors rejected (false = NULL), but
    /// no vm area is created. <paramref name="pages"/> must hold exactly total_pages entries; it receives the
    /// physical address of each page in list order. Not transactional, like the kernel's.</summary>
    public bool RestoreVmallocPages(in KhoVmalloc desc, Span<ulong> pages)
    {
        CheckAlive();
        ulong nr = desc.TotalPages;
        if (nr > Arena.PageCount || (ulong)pages.Length != nr) return false; // page array allocation fails
        int order = desc.Order;
        if (order > RadixKey.MaxOrder) return false;
        ulong contig = 1UL << order;
        ulong idx = 0;
        HashSet<ulong>? seen = null; // cycle check; only chains longer than one chunk need the set
        for (ulong c = desc.First; c != 0;)
        {
            if (!Arena.Contains(c, PhysicalArena.PageSize)) return false;
            if (c != desc.First || seen is not null)
            {
                seen ??= [desc.First];
                if (!seen.Add(c)) return false;
            }
            for (int i = 0; i < KhoVmallocChunk.Entries; i++)
            {
                ulong phys = Arena.ReadU64(c + KhoVmallocChunk.PhysOffset + 8UL * (uint)i);
                if (phys == 0) break;
                if (idx + contig > nr) return false;
                if (!RestorePages(phys, contig)) return false;
                // the kernel keeps struct page pointers (phys_to_page): a slot's low 12 bits are dropped
                ulong head = phys & ~(ulong)(PhysicalArena.PageSize - 1);
                for (ulong j = 0; j < contig; j++) pages[(int)idx++] = head + (j << PhysicalArena.PageShift);
            }
            ulong next = Arena.ReadU64(c + KhoVmallocChunk.NextOffset);
            if (RestorePages(c, 1)) Pages.Free(c >> PhysicalArena.PageShift, 0);
            c = next;
        }
        return idx == nr;
    }
}
