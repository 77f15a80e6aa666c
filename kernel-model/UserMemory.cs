namespace LuoModel.Kernel;

/// <summary>Page protection of a user mapping (PROT_* values).</summary>
[Flags]
public enum Prot
{
    /// <summary>PROT_NONE: every access faults.</summary>
    None = 0,
    /// <summary>PROT_READ.</summary>
    Read = 1,
    /// <summary>PROT_WRITE (implies read on every architecture the model cares about).</summary>
    Write = 2,
}

/// <summary>
/// A process's sparse user address space: page-granular anonymous mappings and shared/private views of memfd
/// pages. Accesses fault per page (copy_from_user / copy_to_user semantics), so every EFAULT path is
/// reachable. Anonymous pages are zero-filled on first touch.
/// </summary>
public sealed class UserMemory
{
    /// <summary>PAGE_SIZE.</summary>
    public const int PageSize = 4096;
    /// <summary>Lowest address handed out by <see cref="Map"/>.</summary>
    public const ulong MapBase = 0x7f00_0000_0000;

    private sealed class PageEntry
    {
        public Prot Prot;
        public byte[]? Anon;
        public ShmemInode? Inode;
        public ulong Index;
        public bool Private;
        public MemfdFile? File;
    }

    private readonly Dictionary<ulong, PageEntry> _pages = [];
    private ulong _next = MapBase;

    /// <summary>Number of mapped pages.</summary>
    public int MappedPages => _pages.Count;

    /// <summary>Maps <paramref name="length"/> bytes (rounded up to pages) of zeroed anonymous memory with
    /// <paramref name="prot"/>; returns the start address. A one-page hole follows every mapping.</summary>
    public ulong Map(ulong length, Prot prot)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        ulong pages = (length + PageSize - 1) / PageSize;
        ulong addr = _next;
        for (ulong i = 0; i < pages; i++) _pages[(addr / PageSize) + i] = new PageEntry { Prot = prot };
        _next = addr + ((pages + 1) * PageSize);
        return addr;
    }

    /// <summary>Maps file pages [pgoff, pgoff+pages) of a memfd (shared or private view).</summary>
    internal ulong MapFile(MemfdFile file, ulong pgoff, ulong pages, Prot prot, bool isPrivate)
    {
        ulong addr = _next;
        for (ulong i = 0; i < pages; i++)
            _pages[(addr / PageSize) + i] = new PageEntry { Prot = prot, Inode = file.Inode, Index = pgoff + i, Private = isPrivate, File = file };
        _next = addr + ((pages + 1) * PageSize);
        return addr;
    }

    /// <summary>Changes the protection of every mapped page in the range (unmapped pages are skipped).</summary>
    public void Protect(ulong addr, ulong length, Prot prot)
    {
        for (ulong vpn = addr / PageSize; vpn < (addr + length + PageSize - 1) / PageSize; vpn++)
            if (_pages.TryGetValue(vpn, out var e)) e.Prot = prot;
    }

    /// <summary>Removes every page of the range; returns the memfd files whose mappings went away (one entry
    /// per page, so the caller can drop the file references the pages held).</summary>
    internal List<MemfdFile> UnmapCore(ulong addr, ulong length)
    {
        var dropped = new List<MemfdFile>();
        for (ulong vpn = addr / PageSize; vpn < (addr + length + PageSize - 1) / PageSize; vpn++)
            if (_pages.Remove(vpn, out var e) && e.File is not null) dropped.Add(e.File);
        return dropped;
    }

    /// <summary>Unmaps anonymous memory (model convenience; memfd mappings go through Kernel.Munmap).</summary>
    public void Unmap(ulong addr, ulong length) => UnmapCore(addr, length);

    /// <summary>True when the page holding <paramref name="addr"/> is readable.</summary>
    public bool IsReadable(ulong addr) => _pages.TryGetValue(addr / PageSize, out var e) && (e.Prot & (Prot.Read | Prot.Write)) != 0 && FileBacked(e, false);

    private static bool FileBacked(PageEntry e, bool write)
    {
        if (e.Inode is null || e.Anon is not null) return true;
        // beyond EOF: SIGBUS, modelled as a fault; writes to a sealed/frozen-for-write file are rejected at mmap
        return (long)(e.Index * PageSize) < e.Inode.Size;
    }

    /// <summary>copy_from_user(): reads <paramref name="destination"/>.Length bytes; false at the first
    /// faulting page (bytes before it are already copied).</summary>
    public bool TryRead(ulong addr, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            ulong a = addr + (ulong)done;
            if (a < addr) return false;
            if (!_pages.TryGetValue(a / PageSize, out var e) || (e.Prot & (Prot.Read | Prot.Write)) == 0 || !FileBacked(e, false)) return false;
            int off = (int)(a % PageSize);
            int n = Math.Min(PageSize - off, destination.Length - done);
            ReadPage(e, off, destination.Slice(done, n));
            done += n;
        }
        return true;
    }

    /// <summary>copy_to_user(): writes page by page; false at the first page that is unmapped or not
    /// writable (earlier pages are already written).</summary>
    public bool TryWrite(ulong addr, ReadOnlySpan<byte> source)
    {
        int done = 0;
        while (done < source.Length)
        {
            ulong a = addr + (ulong)done;
            if (a < addr) return false;
            if (!_pages.TryGetValue(a / PageSize, out var e) || (e.Prot & Prot.Write) == 0 || !FileBacked(e, true)) return false;
            int off = (int)(a % PageSize);
            int n = Math.Min(PageSize - off, source.Length - done);
            WritePage(e, off, source.Slice(done, n));
            done += n;
        }
        return true;
    }

    /// <summary>Convenience for tests: writes ignoring protection (like a debugger poke); throws on an
    /// unmapped page.</summary>
    public void Poke(ulong addr, ReadOnlySpan<byte> source)
    {
        for (int done = 0; done < source.Length;)
        {
            ulong a = addr + (ulong)done;
            if (!_pages.TryGetValue(a / PageSize, out var e)) throw new InvalidOperationException($"poke of unmapped 0x{a:x}");
            int off = (int)(a % PageSize);
            int n = Math.Min(PageSize - off, source.Length - done);
            WritePage(e, off, source.Slice(done, n));
            done += n;
        }
    }

    /// <summary>Convenience for tests: reads ignoring protection; throws on an unmapped page.</summary>
    public byte[] Peek(ulong addr, int length)
    {
        var r = new byte[length];
        for (int done = 0; done < length;)
        {
            ulong a = addr + (ulong)done;
            if (!_pages.TryGetValue(a / PageSize, out var e)) throw new InvalidOperationException($"peek of unmapped 0x{a:x}");
            int off = (int)(a % PageSize);
            int n = Math.Min(PageSize - off, length - done);
            ReadPage(e, off, r.AsSpan(done, n));
            done += n;
        }
        return r;
    }

    private static void ReadPage(PageEntry e, int off, Span<byte> dst)
    {
        if (e.Anon is not null) e.Anon.AsSpan(off, dst.Length).CopyTo(dst);
        else if (e.Inode is not null) e.Inode.ReadPage(e.Index, off, dst);
        else dst.Clear();
    }

    private static void WritePage(PageEntry e, int off, ReadOnlySpan<byte> src)
    {
        if (e.Inode is not null && e.Anon is null)
        {
            if (!e.Private) { e.Inode.WritePage(e.Index, off, src); return; }
            e.Anon = new byte[PageSize]; // copy-on-write of a private file mapping
            e.Inode.ReadPage(e.Index, 0, e.Anon);
        }
        e.Anon ??= new byte[PageSize];
        src.CopyTo(e.Anon.AsSpan(off));
    }

    /// <summary>fork(): a copy of the address space (anonymous and private pages copied, shared views
    /// shared); returns the files whose mappings gained a reference (one per page).</summary>
    internal UserMemory Clone(List<MemfdFile> refs)
    {
        var m = new UserMemory { _next = _next };
        foreach (var (vpn, e) in _pages)
        {
            m._pages[vpn] = new PageEntry { Prot = e.Prot, Anon = e.Anon?.ToArray(), Inode = e.Inode, Index = e.Index, Private = e.Private, File = e.File };
            if (e.File is not null) refs.Add(e.File);
        }
        return m;
    }

    /// <summary>Drops every mapping (exit); returns the file references to put.</summary>
    internal List<MemfdFile> Clear()
    {
        var files = _pages.Values.Where(e => e.File is not null).Select(e => e.File!).ToList();
        _pages.Clear();
        return files;
    }

    /// <summary>True if a writable shared mapping of <paramref name="inode"/> exists (F_SEAL_WRITE → EBUSY).</summary>
    internal bool HasWritableSharedMapping(ShmemInode inode) =>
        _pages.Values.Any(e => e.Inode == inode && !e.Private && (e.Prot & Prot.Write) != 0);
}
