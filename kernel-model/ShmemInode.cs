using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>memfd seal bits (F_SEAL_*, include/uapi/linux/fcntl.h).</summary>
public static class Seals
{
    /// <summary>F_SEAL_SEAL.</summary>
    public const uint F_SEAL_SEAL = 0x1;
    /// <summary>F_SEAL_SHRINK.</summary>
    public const uint F_SEAL_SHRINK = 0x2;
    /// <summary>F_SEAL_GROW.</summary>
    public const uint F_SEAL_GROW = 0x4;
    /// <summary>F_SEAL_WRITE.</summary>
    public const uint F_SEAL_WRITE = 0x8;
    /// <summary>F_SEAL_FUTURE_WRITE.</summary>
    public const uint F_SEAL_FUTURE_WRITE = 0x10;
    /// <summary>F_SEAL_EXEC.</summary>
    public const uint F_SEAL_EXEC = 0x20;
    /// <summary>Every seal the model knows (MEMFD_LUO_ALL_SEALS, luo.md §1).</summary>
    public const uint All = 0x3F;
}

/// <summary>
/// A shmem inode behind a memfd: size, seals and its page cache, whose pages are order-0 folios in the
/// arena allocated from the kernel's page allocator. Pages are freed when the last open description goes.
/// </summary>
public sealed partial class ShmemInode
{
    private static ulong s_nextIno = 1000;
    private ShmemPageMap _pages; // index → pfn + dirty bit (a mutable struct: never copy it out)
    private HashSet<ulong>? _dirtyHoles; // indices marked written before their page exists (host-backed memfds)
    private readonly Kho.Kho _kho;

    internal ShmemInode(Kho.Kho kho, string name, bool allowSealing, bool hugetlb)
    {
        _kho = kho;
        Name = name;
        Seals = allowSealing ? 0 : LuoModel.Kernel.Seals.F_SEAL_SEAL;
        IsHugetlb = hugetlb;
        Ino = Interlocked.Increment(ref s_nextIno);
    }

    /// <summary>Inode number (unique in the model).</summary>
    public ulong Ino { get; }
    /// <summary>memfd name (without the "memfd:" prefix).</summary>
    public string Name { get; }
    /// <summary>i_size.</summary>
    public long Size { get; internal set; }
    /// <summary>Current seals.</summary>
    public uint Seals { get; internal set; }
    /// <summary>Hugetlb memfd (not shmem: no LUO handler accepts it).</summary>
    public bool IsHugetlb { get; }
    /// <summary>Size frozen by LUO (shmem freeze while preserved, luo.md §6.2): size changes fail EPERM.</summary>
    public bool SizeFrozen { get; internal set; }
    /// <summary>Open descriptions of this inode (for release of the page cache).</summary>
    internal int OpenCount { get; set; }
    /// <summary>Number of pages in the page cache.</summary>
    public int PageCount => _pages.Count;
    /// <summary>Page cache as (index, pfn) in ascending index order.</summary>
    public IReadOnlyList<(ulong Index, ulong Pfn)> Pages => [.. _pages.Entries().OrderBy(e => e.Index).Select(e => (e.Index, e.Pfn))];

    /// <summary>The pfn at <paramref name="index"/>, if present.</summary>
    public bool TryGetPage(ulong index, out ulong pfn) => _pages.TryGetPfn(index, out pfn);

    /// <summary>Whether the page at <paramref name="index"/> was written (folio dirty bit, memfd-v1 flags).</summary>
    internal bool IsDirty(ulong index) => _pages.IsDirty(index) || (_dirtyHoles?.Contains(index) ?? false);

    /// <summary>Marks the page at <paramref name="index"/> written; for a hole, the mark applies once it is filled.</summary>
    internal void MarkDirty(ulong index)
    {
        if (_pages.TryGetPfn(index, out _)) _pages.MarkDirty(index);
        else (_dirtyHoles ??= []).Add(index);
    }

    /// <summary>Allocates a zeroed page for a hole (shmem_get_folio with SGP_CACHE); false on ENOMEM. Placed outside
    /// scratch: LUO pins folios long-term, which migrates them out of the movable (scratch/CMA) area.</summary>
    internal bool AllocPage(ulong index, out ulong pfn)
    {
        if (_pages.TryGetPfn(index, out pfn)) return true;
        if (!_kho.Pages.TryAlloc(0, AllocFlags.Zeroed, out pfn)) return false;
        _kho.MemMap.SetRefCount(pfn, 1);
        _kho.MemMap.SetOrder(pfn, 0);
        _pages.Set(index, pfn, _dirtyHoles?.Remove(index) ?? false);
        return true;
    }

    /// <summary>Inserts a restored folio with its serialized dirty flag (retrieve, luo.md §6.5).</summary>
    internal void InsertPage(ulong index, ulong pfn, bool dirty) => _pages.Set(index, pfn, dirty);

    internal void ReadPage(ulong index, int offset, Span<byte> dst)
    {
        if (_pages.TryGetPfn(index, out ulong pfn)) _kho.Arena.Read((pfn << PhysicalArena.PageShift) + (ulong)offset, dst);
        else dst.Clear();
    }

    internal void WritePage(ulong index, int offset, ReadOnlySpan<byte> src)
    {
        if (!TryWritePage(index, offset, src)) throw new InsufficientMemoryException("shmem page allocation failed (model OOM)");
    }

    /// <summary>shmem_write_begin/end for one page: false (nothing written) when the page cannot be allocated.</summary>
    private bool TryWritePage(ulong index, int offset, ReadOnlySpan<byte> src)
    {
        if (!AllocPage(index, out ulong pfn)) return false;
        _kho.Arena.Write((pfn << PhysicalArena.PageShift) + (ulong)offset, src);
        _pages.MarkDirty(index);
        return true;
    }

    /// <summary>Reads file bytes [pos, pos+dst.Length) (caller clips to size).</summary>
    internal void ReadBytes(long pos, Span<byte> dst)
    {
        for (int done = 0; done < dst.Length;)
        {
            long a = pos + done;
            int off = (int)(a % UserMemory.PageSize);
            int n = Math.Min(UserMemory.PageSize - off, dst.Length - done);
            ReadPage((ulong)(a / UserMemory.PageSize), off, dst.Slice(done, n));
            done += n;
        }
    }

    /// <summary>Writes file bytes (caller has checked seals and size rules) page by page, as
    /// generic_perform_write() does: stops at the first page that cannot be allocated and returns the number of
    /// bytes written before it (0 = nothing written, the caller reports ENOMEM).</summary>
    internal int WriteBytes(long pos, ReadOnlySpan<byte> src)
    {
        int done = 0;
        while (done < src.Length)
        {
            long a = pos + done;
            int off = (int)(a % UserMemory.PageSize);
            int n = Math.Min(UserMemory.PageSize - off, src.Length - done);
            if (!TryWritePage((ulong)(a / UserMemory.PageSize), off, src.Slice(done, n))) break;
            done += n;
        }
        return done;
    }

    /// <summary>Truncate to <paramref name="size"/>: pages wholly beyond are freed, the partial tail zeroed.</summary>
    internal void SetSize(long size)
    {
        if (size < Size)
        {
            ulong firstGone = (ulong)((size + UserMemory.PageSize - 1) / UserMemory.PageSize);
            foreach (var (idx, _, _) in _pages.Entries().Where(e => e.Index >= firstGone).ToList())
                if (_pages.Remove(idx, out ulong gone)) FreePage(gone);
            _dirtyHoles?.RemoveWhere(i => i >= firstGone);
            int tail = (int)(size % UserMemory.PageSize);
            if (tail != 0 && _pages.TryGetPfn((ulong)(size / UserMemory.PageSize), out ulong pfn))
                _kho.Arena.Fill((pfn << PhysicalArena.PageShift) + (ulong)tail, (ulong)(UserMemory.PageSize - tail), 0);
        }
        Size = size;
    }

    private void FreePage(ulong pfn) => _kho.FreeFolio(new Folio(pfn, 0));

    /// <summary>evict_inode: frees the page cache (last open description gone).</summary>
    internal void Evict()
    {
        ReleaseHost();
        if (_kho.IsDead) { _pages.Clear(); return; }
        foreach (ulong pfn in _pages.Pfns()) FreePage(pfn);
        _pages.Clear();
    }
}
