using System.Buffers;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>A memfd open file description over a <see cref="ShmemInode"/>.</summary>
public sealed class MemfdFile : OpenFile
{
    internal MemfdFile(Kernel kernel, ShmemInode inode, int flags) : base(kernel, flags)
    {
        Inode = inode;
        inode.OpenCount++;
    }

    /// <summary>The inode (identity used by memfd get_id).</summary>
    public ShmemInode Inode { get; }

    /// <inheritdoc/>
    public override string PathName => (Inode.IsHugetlb ? "/memfd:" : "/memfd:") + Inode.Name + " (deleted)";

    /// <inheritdoc/>
    protected override Errno Release()
    {
        using var mm = Kernel.Mm.Hold(); // model mm lock (inode and page allocator locks)
        if (--Inode.OpenCount == 0) Inode.Evict();
        return Errno.Ok;
    }
}

/// <summary>private_data of a preserved memfd: the folio array and its descriptor.</summary>
public sealed record MemfdPrivate(ulong ArrayAddr, IReadOnlyList<MemfdLuoFolioSer> Folios, KhoVmalloc Descriptor, ulong SerPhys);

/// <summary>
/// The memfd LUO handler (mm/memfd_luo.c, luo.md §6): "memfd-v2" (N) or "memfd-v1". Data pages are preserved
/// in place: the next kernel's memfd owns the very same arena pages.
/// </summary>
public sealed class MemfdHandler : LiveupdateFileHandler
{
    private readonly Luo _luo;

    internal MemfdHandler(Luo luo, MemfdVersion version) : base(version == MemfdVersion.V2 ? "memfd-v2" : "memfd-v1")
    {
        _luo = luo;
        Version = version;
    }

    /// <summary>Handler generation.</summary>
    public MemfdVersion Version { get; }
    private Kho.Kho Kho => _luo.Kho;
    private FaultInjector Faults => _luo.Faults;
    private int SerSize => Version == MemfdVersion.V2 ? MemfdLuoSer.SizeV2 : MemfdLuoSer.SizeV1;

    /// <inheritdoc/>
    public override bool CanPreserve(OpenFile file) => file is MemfdFile m && !m.Inode.IsHugetlb;
    /// <inheritdoc/>
    public override bool HasGetId => Version == MemfdVersion.V2;
    /// <inheritdoc/>
    public override object GetId(OpenFile file) => file is MemfdFile m ? m.Inode : file;
    /// <inheritdoc/>
    public override bool HasFreeze => true;

    /// <summary>memfd_luo_preserve() (luo.md §6.2).</summary>
    public override Errno Preserve(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var m = (MemfdFile)args.File!;
        var inode = m.Inode;
        inode.LoadFromHost(m);
        inode.SizeFrozen = true;
        Errno rc = Faults.Check(FaultPoint.MemfdPreserveAlloc);
        ulong ser = 0;
        if (rc == Errno.Ok) rc = _luo.AllocPreserve((ulong)SerSize, out ser, "memfd_luo_ser");
        if (rc != Errno.Ok) { inode.SizeFrozen = false; return Errno.ENOMEM; }
        var folios = new List<MemfdLuoFolioSer>();
        ulong arrayAddr = 0;
        var desc = default(KhoVmalloc);
        rc = PreserveCore(m, folios, ref arrayAddr, ref desc);
        if (rc != Errno.Ok)
        {
            foreach (var f in folios) Kho.UnpreserveFolio(new Folio(f.Pfn, 0));
            if (arrayAddr != 0) FreeArray(arrayAddr);
            Kho.UnpreserveFree(ser);
            inode.SizeFrozen = false;
            return rc;
        }
        Span<byte> b = stackalloc byte[MemfdLuoSer.SizeV2];
        b.Clear();
        new MemfdLuoSer((ulong)m.Position, (ulong)inode.Size, inode.Seals, 0, (ulong)folios.Count, desc).WriteTo(b, Version);
        Kho.Arena.Write(ser, b[..SerSize]);
        args.SerializedData = ser;
        args.PrivateData = new MemfdPrivate(arrayAddr, folios, desc, ser);
        return Errno.Ok;
    }

    private Errno PreserveCore(MemfdFile m, List<MemfdLuoFolioSer> folios, ref ulong arrayAddr, ref KhoVmalloc desc)
    {
        var inode = m.Inode;
        if (Version == MemfdVersion.V2 && (inode.Seals & ~Seals.All) != 0) return Errno.EOPNOTSUPP;
        ulong pages = ((ulong)inode.Size + PhysicalArena.PageSize - 1) / PhysicalArena.PageSize;
        if (Version == MemfdVersion.V2 && pages > uint.MaxValue) return Errno.EFBIG;
        // memfd_pin_folios(): every index is pinned first, holes filled with new zero folios (these stay in the
        // page cache even if a later step fails); then the array is vcalloc'ed; only then is each folio
        // preserved (mm/memfd_luo.c order, which decides what runs out first under real memory pressure).
        var pinned = new List<ulong>(); // grows with what was pinned: a huge sparse size runs out of arena pages first
        for (ulong idx = 0; idx < pages; idx++)
        {
            if (!inode.TryGetPage(idx, out ulong pfn))
            {
                Errno a = Faults.Check(FaultPoint.MemfdFolioAlloc);
                if (a != Errno.Ok) return a;
                if (!inode.AllocPage(idx, out pfn)) return Errno.ENOMEM;
            }
            pinned.Add(pfn);
        }
        if (pages == 0) return Errno.Ok;
        int arrayPages = (int)((pages * MemfdLuoFolioSer.Size + PhysicalArena.PageSize - 1) / PhysicalArena.PageSize);
        Errno rc = Faults.Check(FaultPoint.MemfdArrayAlloc);
        if (rc != Errno.Ok) return rc;
        arrayAddr = Kho.Vmalloc.Allocate(arrayPages);
        if (arrayAddr == 0) return Errno.ENOMEM;
        var area = Kho.Vmalloc.Find(arrayAddr)!;
        foreach (ulong pg in area.Pages) Kho.Arena.Fill(pg, PhysicalArena.PageSize, 0); // vcalloc
        Span<byte> e = stackalloc byte[MemfdLuoFolioSer.Size];
        for (ulong idx = 0; idx < pages; idx++)
        {
            ulong pfn = pinned[(int)idx];
            Errno p = Faults.Check(FaultPoint.MemfdFolioPreserve);
            if (p == Errno.Ok) p = Kho.PreserveFolio(new Folio(pfn, 0));
            if (p != Errno.Ok) return p;
            uint flags = Version == MemfdVersion.V2 || inode.IsDirty(idx)
                ? MemfdLuoFolioSer.FlagDirty | MemfdLuoFolioSer.FlagUptodate
                : MemfdLuoFolioSer.FlagUptodate;
            var f = new MemfdLuoFolioSer(pfn, flags, idx);
            folios.Add(f);
            f.WriteTo(e);
            Kho.Arena.Write(EntryPhys(area, folios.Count - 1), e);
        }
        rc = Faults.Check(FaultPoint.MemfdVmallocPreserve);
        if (rc == Errno.Ok) rc = Kho.PreserveVmalloc(arrayAddr, ref desc);
        return rc;
    }

    private static ulong EntryPhys(VmArea area, int i)
    {
        ulong off = (ulong)i * MemfdLuoFolioSer.Size;
        return area.Pages[(int)(off / PhysicalArena.PageSize)] + (off % PhysicalArena.PageSize);
    }

    private void FreeArray(ulong addr)
    {
        var area = Kho.Vmalloc.Find(addr);
        if (area is not null) FreeArray(area);
    }

    private void FreeArray(VmArea area)
    {
        var pages = area.Pages;
        for (int i = 0; i < pages.Count; i++) Kho.FreeFolio(new Folio(pages[i] >> PhysicalArena.PageShift, 0));
        Kho.Vmalloc.Unmap(area.Addr); // vfree() also removes the vm area
    }

    /// <summary>memfd_luo_freeze(): writes the current file offset into pos; EINVAL without data.</summary>
    public override Errno Freeze(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return FreezeCore(args.SerializedData, args.File);
    }

    /// <summary>The same freeze straight from the luo_file (reboot hot path: no argument block; serialized data
    /// unchanged).</summary>
    internal override Errno FreezeFile(LuoFile f, LiveupdateFileOpArgs args) => FreezeCore(f.SerializedData, f.File);

    private Errno FreezeCore(ulong ser, OpenFile? file)
    {
        if (ser == 0) return Errno.EINVAL;
        // A memfd received from a host process (luo serve) copies its current contents into its arena pages now,
        // as the kernel hands over what the pages hold at reboot (selftest-shim.md §6.1).
        if (file is MemfdFile hf && hf.Inode.SnapshotFromHost(hf) is var se && se != Errno.Ok) return se;
        if (_luo.Mut(LuoMutant.MemfdFreezeSkipsPos)) return Errno.Ok; // mutant: MemfdFreezeSkipsPos
        _luo.Kho.Arena.WriteU64(ser + MemfdLuoSer.PosOffset, (ulong)(file?.Position ?? 0));
        return Errno.Ok;
    }

    /// <summary>memfd_luo_unpreserve() (luo.md §6.3).</summary>
    public override void Unpreserve(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.File is MemfdFile m) m.Inode.SizeFrozen = false;
        if (args.PrivateData is not MemfdPrivate priv) return;
        if (priv.Folios.Count > 0) Kho.UnpreserveVmalloc(priv.Descriptor);
        foreach (var f in priv.Folios)
            if (f.Pfn != 0) Kho.UnpreserveFolio(new Folio(f.Pfn, 0));
        if (priv.ArrayAddr != 0) FreeArray(priv.ArrayAddr);
        Kho.UnpreserveFree(priv.SerPhys);
    }

    /// <summary>memfd_luo_retrieve() (luo.md §6.5): a new memfd "" whose page cache is the restored folios.</summary>
    public override Errno Retrieve(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        ulong serPhys = args.SerializedData;
        if (serPhys == 0) return Errno.EINVAL;
        try
        {
            Span<byte> b = stackalloc byte[MemfdLuoSer.SizeV2];
            if (!Kho.Arena.TryRead(serPhys, b[..SerSize])) return Errno.EINVAL;
            var ser = MemfdLuoSer.ReadFrom(b, Version);
            if (Version == MemfdVersion.V2 && (ser.Seals & ~Seals.All) != 0) return Errno.EOPNOTSUPP;
            Errno rc = Faults.Check(FaultPoint.RetrieveAlloc);
            if (rc != Errno.Ok) return rc;
            var inode = new ShmemInode(Kho, "", allowSealing: Version == MemfdVersion.V2, hugetlb: false);
            var file = new MemfdFile(_luo.Kernel, inode, OpenFlags.O_RDWR | OpenFlags.O_LARGEFILE);
            if (Version == MemfdVersion.V2) inode.Seals = ser.Seals;
            if ((long)ser.Pos >= 0) file.Position = (long)ser.Pos;
            inode.Size = (long)ser.Size;
            rc = RestoreFolios(ser, inode);
            if (rc != Errno.Ok)
            {
                file.Put();
                return rc;
            }
            args.File = file;
            return Errno.Ok;
        }
        finally
        {
            Kho.RestoreFree(serPhys);
        }
    }

    // The folio array is read through its page list rather than a host vm area: the pages restored, read and
    // freed are the kernel's (kho_restore_vmalloc, then vfree once the page cache is built); a mapping object
    // would only be host garbage per retrieved file (bench/README.md, LUO round trip).
    private const int StackArrayPages = 16;

    /// <summary>Restores the folio array and walks its folios: into <paramref name="inode"/>'s page cache (retrieve;
    /// after the first failure the rest are restored and released, EIO), or, with a null inode, restored and
    /// released every one (finish of a never-retrieved file). The array pages are freed after the walk. EINVAL
    /// when the array itself cannot be restored.</summary>
    private Errno RestoreFolios(MemfdLuoSer ser, ShmemInode? inode)
    {
        if (ser.NrFolios == 0) return Errno.Ok;
        ulong total = ser.Folios.TotalPages;
        if (total > Kho.Arena.PageCount) return Errno.EINVAL; // the page array allocation fails
        ulong[]? rented = total > StackArrayPages ? ArrayPool<ulong>.Shared.Rent((int)total) : null;
        Span<ulong> pages = (rented ?? stackalloc ulong[StackArrayPages])[..(int)total];
        try
        {
            if (!Kho.RestoreVmallocPages(ser.Folios, pages)) return Errno.EINVAL;
            Errno err = Errno.Ok;
            for (int i = 0, n = FolioSlots(pages, ser.NrFolios); i < n; i++)
            {
                var f = ReadFolio(pages, i);
                if (f.Pfn == 0) continue;
                if (inode is null || err != Errno.Ok)
                {
                    if (Kho.RestoreFolio(f.Pfn << PhysicalArena.PageShift, out var rest)) Kho.FreeFolio(rest); // release the rest
                    continue;
                }
                Errno inj = Faults.Check(FaultPoint.MemfdFolioRestore);
                if (inj != Errno.Ok || !Kho.RestoreFolio(f.Pfn << PhysicalArena.PageShift, out _)) { err = Errno.EIO; continue; }
                inode.InsertPage(f.Index, f.Pfn, (f.Flags & MemfdLuoFolioSer.FlagDirty) != 0);
            }
            FreePages(pages);
            return err;
        }
        finally
        {
            if (rented is not null) ArrayPool<ulong>.Shared.Return(rented);
        }
    }

    /// <summary>Entries of the folio array to visit: nr_folios, bounded by what the array pages hold.</summary>
    private static int FolioSlots(ReadOnlySpan<ulong> pages, ulong nrFolios) =>
        (int)Math.Min(nrFolios, (ulong)pages.Length * (PhysicalArena.PageSize / MemfdLuoFolioSer.Size));

    private MemfdLuoFolioSer ReadFolio(ReadOnlySpan<ulong> pages, int i)
    {
        Span<byte> e = stackalloc byte[MemfdLuoFolioSer.Size];
        Kho.Arena.Read(EntryPhys(pages, i), e);
        return MemfdLuoFolioSer.ReadFrom(e);
    }

    private void FreePages(ReadOnlySpan<ulong> pages)
    {
        foreach (ulong page in pages) Kho.FreeFolio(new Folio(page >> PhysicalArena.PageShift, 0));
    }

    private static ulong EntryPhys(ReadOnlySpan<ulong> pages, int i)
    {
        ulong off = (ulong)i * MemfdLuoFolioSer.Size;
        return pages[(int)(off / PhysicalArena.PageSize)] + (off % PhysicalArena.PageSize);
    }

    /// <summary>memfd_luo_finish() (luo.md §6.6): only for never-retrieved files: restore and release.</summary>
    public override void Finish(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.RetrieveStatus != 0 || args.SerializedData == 0) return;
        Span<byte> b = stackalloc byte[MemfdLuoSer.SizeV2];
        if (!Kho.Arena.TryRead(args.SerializedData, b[..SerSize])) return;
        var ser = MemfdLuoSer.ReadFrom(b, Version);
        RestoreFolios(ser, inode: null); // finish cannot fail: an unrestorable array is skipped
        Kho.RestoreFree(args.SerializedData);
    }
}
