using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit;

public static partial class HandoverDecoder
{
    private const int FolioEntriesPerPage = PhysicalArena.PageSize / MemfdLuoFolioSer.Size;

    /// <summary>A memfd_luo_ser record and its folio array as memfd_luo_retrieve() reads them (luo.md §6.4,
    /// §6.5): record, vmalloc chunk chain, array pages, folio entries. Defects make the retrieve fail.</summary>
    private static MemfdInfo? DecodeMemfd(Ctx c, string where, ulong phys, MemfdVersion version)
    {
        var h = c.Result;
        if (phys == 0) { h.Problem(HandoverProblemKind.RetrieveFails, where, "serialized data is 0 (-EINVAL)"); return null; }
        int size = version == MemfdVersion.V2 ? MemfdLuoSer.SizeV2 : MemfdLuoSer.SizeV1;
        Span<byte> raw = stackalloc byte[MemfdLuoSer.SizeV2];
        raw.Clear();
        if (!c.TryRead(phys, raw[..size])) { h.Problem(HandoverProblemKind.RetrieveFails, where, $"memfd_luo_ser {Hex(phys)} outside memory"); return null; }
        if (!c.Preserved(phys)) h.Problem(HandoverProblemKind.RetrieveFails, where, $"memfd_luo_ser page {Hex(phys)} is not preserved (restore fails)");
        var ser = MemfdLuoSer.ReadFrom(raw, version);
        if (version == MemfdVersion.V2 && (ser.Seals & ~Seals.All) != 0)
            h.Problem(HandoverProblemKind.RetrieveFails, where, $"seals 0x{ser.Seals:x} outside 0x3f (-EOPNOTSUPP)");
        var chunks = new List<ulong>();
        var pages = new List<ulong>();
        var entries = new List<FolioEntryInfo>();
        if (ser.NrFolios > 0)
        {
            WalkVmallocChain(c, where, ser.Folios, chunks, pages);
            ReadFolioEntries(c, where, ser.NrFolios, pages, entries);
        }
        else if (ser.Folios != default) h.Problem(HandoverProblemKind.Note, where, "nr_folios is 0 but the folios descriptor is not all zero");
        ulong expected = (ser.Size + PhysicalArena.PageSize - 1) / PhysicalArena.PageSize;
        if (ser.NrFolios != expected)
            h.Problem(HandoverProblemKind.Note, where, $"nr_folios {ser.NrFolios} for size {ser.Size} (one folio per page, {expected}, is what preserve writes)");
        return new MemfdInfo(phys, version == MemfdVersion.V2 ? "memfd-v2" : "memfd-v1", ser.Pos, ser.Size, ser.Seals, ser.Flags, ser.NrFolios, ser.Folios, chunks, pages, entries);
    }

    /// <summary>kho_restore_vmalloc() reading (kho.md §2.7): chunk pages linked by next, each listing up to 511
    /// array pages (zero-terminated); the count must equal total_pages. Cycle-safe and bounded.</summary>
    private static void WalkVmallocChain(Ctx c, string where, KhoVmalloc desc, List<ulong> chunks, List<ulong> pages)
    {
        var h = c.Result;
        var seen = new HashSet<ulong>();
        ulong contig = desc.Order <= RadixKey.MaxOrder ? 1UL << desc.Order : 0;
        if (desc.Order != 0) h.Problem(HandoverProblemKind.Note, where, $"folio array order {desc.Order} (memfd arrays are order 0)");
        string? error = contig == 0 ? $"order {desc.Order} out of range" : null;
        for (ulong p = desc.First; p != 0 && error is null;)
        {
            if (!seen.Add(p)) { error = $"chunk chain loops back to {Hex(p)}"; break; }
            if ((p & (PhysicalArena.PageSize - 1)) != 0 || !c.Arena.Contains(p, PhysicalArena.PageSize)) { error = $"chunk {Hex(p)} is not a page inside memory"; break; }
            if (!c.Preserved(p)) { error = $"chunk {Hex(p)} is not preserved"; break; }
            chunks.Add(p);
            for (int i = 0; i < KhoVmallocChunk.Entries; i++)
            {
                ulong a = c.ReadU64(p + KhoVmallocChunk.PhysOffset + (8UL * (uint)i)) ?? 0;
                if (a == 0) break;
                if ((ulong)pages.Count + contig > desc.TotalPages) { error = $"the chunks list more than total_pages {desc.TotalPages}"; break; }
                for (ulong j = 0; j < contig; j++)
                {
                    ulong page = a + (j << PhysicalArena.PageShift);
                    if (!c.Preserved(page)) { error = $"array page {Hex(page)} is not preserved"; break; }
                    pages.Add(page);
                }
                if (error is not null) break;
            }
            p = c.ReadU64(p + KhoVmallocChunk.NextOffset) ?? 0;
        }
        if (error is null && (ulong)pages.Count != desc.TotalPages) error = $"the chunks list {pages.Count} pages, total_pages is {desc.TotalPages}";
        if (error is not null) h.Problem(HandoverProblemKind.RetrieveFails, where, "kho_restore_vmalloc fails: " + error + " (-EINVAL)");
    }

    private static void ReadFolioEntries(Ctx c, string where, ulong nrFolios, List<ulong> pages, List<FolioEntryInfo> entries)
    {
        var h = c.Result;
        ulong available = (ulong)pages.Count * FolioEntriesPerPage;
        ulong n = Math.Min(Math.Min(nrFolios, available), (ulong)Math.Max(0, Math.Min(c.FolioBudget, MaxFolioEntries)));
        c.FolioBudget -= (int)n;
        if (n < nrFolios)
            h.Problem(available < nrFolios ? HandoverProblemKind.RetrieveFails : HandoverProblemKind.Note, where,
                available < nrFolios ? $"nr_folios {nrFolios} but the array holds {available} entries" : $"only the first {n} of {nrFolios} folio entries are decoded");
        Span<byte> e = stackalloc byte[MemfdLuoFolioSer.Size];
        bool reported = false;
        for (int i = 0; i < (int)n; i++)
        {
            ulong at = pages[i / FolioEntriesPerPage] + ((ulong)(i % FolioEntriesPerPage) * MemfdLuoFolioSer.Size);
            if (!c.TryRead(at, e)) break;
            var f = MemfdLuoFolioSer.ReadFrom(e);
            bool preserved = f.Pfn != 0 && c.Preserved(f.Pfn << PhysicalArena.PageShift);
            if (f.Pfn != 0 && !preserved && !reported)
            {
                h.Problem(HandoverProblemKind.RetrieveFails, where, $"folio [{i}] pfn {Hex(f.Pfn)} is not preserved (kho_restore_folio fails: -EIO)");
                reported = true;
            }
            entries.Add(new FolioEntryInfo(i, f.Pfn, f.Flags, f.Index, preserved));
        }
    }
}
