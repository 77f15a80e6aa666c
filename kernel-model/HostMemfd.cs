using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>Identity of a host file: (st_dev, st_ino) as <c>statx</c> reports them.</summary>
/// <param name="Device">makedev(stx_dev_major, stx_dev_minor).</param>
/// <param name="Inode">stx_ino.</param>
public readonly record struct HostFileId(ulong Device, ulong Inode);

/// <summary>
/// A real file outside the model that stands behind a model memfd (selftest-shim.md §6.1): the selftest
/// daemon receives a test process's memfd over SCM_RIGHTS and keeps it, as LUO keeps its file reference.
/// The model reads it only at preserve (size, offset, seals) and at freeze (contents), so writes made after
/// PRESERVE_FD are part of the snapshot, as in the kernel (selftest-shim.md §7 step 2).
/// </summary>
public interface IHostFileBacking
{
    /// <summary>(st_dev, st_ino) of the host file; files with equal ids are one model inode.</summary>
    HostFileId Id { get; }

    /// <summary>Current size of the host file (0 when it cannot be read).</summary>
    long Size { get; }

    /// <summary>Current file offset of the held open file description.</summary>
    long Position { get; }

    /// <summary>Current seals (F_GET_SEALS; 0 when not sealable).</summary>
    uint Seals { get; }

    /// <summary>pread(): fills <paramref name="destination"/> from <paramref name="offset"/>; returns the bytes
    /// read (fewer at end of file) or a negative errno.</summary>
    int ReadAt(long offset, Span<byte> destination);

    /// <summary>The model no longer needs the host file (inode evicted, or the boot ended): close it.</summary>
    void Release();
}

/// <summary>A host file that no model handler accepts (a character device, socket, regular file on a disk
/// filesystem…): PRESERVE_FD answers ENOENT for it at luo.md §3.6 step 4.</summary>
public sealed class HostForeignFile : OpenFile
{
    private readonly string _path;

    internal HostForeignFile(Kernel kernel, string path, int flags) : base(kernel, flags) => _path = path;

    /// <inheritdoc/>
    public override string PathName => _path;
}

public sealed partial class ShmemInode
{
    /// <summary>The host file mirrored by this inode (null for a model-only memfd).</summary>
    public IHostFileBacking? Host { get; private set; }

    private Kernel? _hostOwner;

    internal void AttachHost(Kernel owner, IHostFileBacking backing)
    {
        Host = backing;
        _hostOwner = owner;
    }

    /// <summary>Drops the host file: closes it and forgets the identity (inode evicted or boot over).</summary>
    internal void ReleaseHost()
    {
        var h = Host;
        if (h is null) return;
        Host = null;
        _hostOwner?.ForgetHostInode(h.Id, this);
        _hostOwner = null;
        h.Release();
    }

    /// <summary>Preserve-time view of the host file (luo.md §6.2): i_size, seals and the file offset are taken
    /// from it. Every page below the size counts as written (dirty) for the memfd-v1 flags. The data itself is
    /// copied at freeze (<see cref="SnapshotFromHost"/>).</summary>
    internal void LoadFromHost(MemfdFile file)
    {
        var h = Host;
        if (h is null) return;
        long size = Math.Max(0, h.Size);
        if (size < Size) SetSize(size);
        Size = size;
        Seals = h.Seals;
        ulong pages = (ulong)((size + UserMemory.PageSize - 1) / UserMemory.PageSize);
        if (pages <= _kho.Arena.DramBytes / PhysicalArena.PageSize)   // a larger file fails preserve with ENOMEM anyway
            for (ulong i = 0; i < pages; i++) MarkDirty(i);
        file.Position = Math.Max(0, h.Position);
    }

    /// <summary>Freeze-time snapshot (selftest-shim.md §7 step 2): copies the host file's bytes into the page
    /// cache pages that preserve pinned (no page is added: the preserved folio list is fixed); bytes the host
    /// no longer has (it shrank) read as zero. Updates the file offset. EIO when the host file cannot be read.</summary>
    internal Errno SnapshotFromHost(MemfdFile file)
    {
        var h = Host;
        if (h is null) return Errno.Ok;
        Span<byte> page = stackalloc byte[UserMemory.PageSize];
        ulong pages = (ulong)((Size + UserMemory.PageSize - 1) / UserMemory.PageSize);
        for (ulong idx = 0; idx < pages; idx++)
        {
            if (!_pages.TryGetPfn(idx, out ulong pfn)) continue;
            int n = h.ReadAt((long)idx * UserMemory.PageSize, page);
            if (n < 0) return Errno.EIO;
            page[n..].Clear();
            _kho.Arena.Write(pfn << PhysicalArena.PageShift, page);
        }
        file.Position = Math.Max(0, h.Position);
        return Errno.Ok;
    }
}

public sealed partial class Kernel
{
    private readonly Dictionary<HostFileId, ShmemInode> _hostInodes = [];

    /// <summary>Host files currently mirrored by a model inode of this boot.</summary>
    public int HostFileCount => _hostInodes.Count;

    /// <summary>
    /// Model-only (the selftest daemon's SCM_RIGHTS receive): installs an open file description for a host memfd
    /// at the lowest free fd of <paramref name="p"/>. A host inode already known to this boot maps to the same
    /// model inode (so LUO's registry sees one identity, luo.md §6.1), and the extra backing is released at
    /// once; otherwise a new inode takes the backing. A hugetlb memfd gets an inode no handler accepts.
    /// Returns the fd or −EMFILE (the backing is released on failure).
    /// </summary>
    public long InstallHostMemfd(Process p, IHostFileBacking backing, bool hugetlb = false)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(backing);
        CheckUsable();
        int fd = p.Reserve(0, true);
        if (fd < 0)
        {
            backing.Release();
            return Fail(Errno.EMFILE);
        }
        if (_hostInodes.TryGetValue(backing.Id, out var inode)) backing.Release();
        else
        {
            inode = new ShmemInode(Kho, "host", allowSealing: true, hugetlb);
            inode.AttachHost(this, backing);
            _hostInodes[backing.Id] = inode;
        }
        p.Install(fd, new MemfdFile(this, inode, OpenFlags.O_RDWR | OpenFlags.O_LARGEFILE));
        return fd;
    }

    /// <summary>Model-only: installs a stand-in for a host file that is not a memfd (see
    /// <see cref="HostForeignFile"/>) at the lowest free fd; returns the fd or −EMFILE.</summary>
    public long InstallHostForeignFile(Process p, string pathName)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(pathName);
        CheckUsable();
        int fd = p.Reserve(0, true);
        if (fd < 0) return Fail(Errno.EMFILE);
        p.Install(fd, new HostForeignFile(this, pathName, OpenFlags.O_RDWR));
        return fd;
    }

    /// <summary>Model-only: a retrieved memfd is now mirrored by a host memfd the daemon created from its
    /// bytes; registers that host identity for the file's inode (a later PRESERVE_FD of the host fd is the
    /// same inode). False when the inode already has a backing or the id is taken.</summary>
    public bool AttachHostBacking(MemfdFile file, IHostFileBacking backing)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(backing);
        if (file.Inode.Host is not null || _hostInodes.ContainsKey(backing.Id)) return false;
        file.Inode.AttachHost(this, backing);
        _hostInodes[backing.Id] = file.Inode;
        return true;
    }

    /// <summary>Releases every host file of this boot (after kexec or at a reset: the handover already holds
    /// the preserved bytes).</summary>
    public void ReleaseHostBackings()
    {
        foreach (var inode in _hostInodes.Values.ToList()) inode.ReleaseHost();
        _hostInodes.Clear();
    }

    internal void ForgetHostInode(HostFileId id, ShmemInode inode)
    {
        if (_hostInodes.TryGetValue(id, out var cur) && ReferenceEquals(cur, inode)) _hostInodes.Remove(id);
    }

    /// <summary>Reads the model's bytes of a memfd (a retrieved file's page cache in the arena): fills
    /// <paramref name="destination"/> from <paramref name="offset"/>, clipped to i_size; returns the count.</summary>
    public static int ReadMemfdContents(MemfdFile file, long offset, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (offset < 0) return 0;
        long avail = Math.Max(0, file.Inode.Size - offset);
        int n = (int)Math.Min(avail, destination.Length);
        file.Inode.ReadBytes(offset, destination[..n]);
        return n;
    }
}
