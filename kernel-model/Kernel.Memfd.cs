using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>memfd_create / mmap / lseek constants.</summary>
public static class MemfdConsts
{
    /// <summary>MFD_CLOEXEC.</summary>
    public const uint MFD_CLOEXEC = 1;
    /// <summary>MFD_ALLOW_SEALING.</summary>
    public const uint MFD_ALLOW_SEALING = 2;
    /// <summary>MFD_HUGETLB.</summary>
    public const uint MFD_HUGETLB = 4;
    /// <summary>MAP_SHARED.</summary>
    public const int MAP_SHARED = 1;
    /// <summary>MAP_PRIVATE.</summary>
    public const int MAP_PRIVATE = 2;
    /// <summary>SEEK_SET.</summary>
    public const int SEEK_SET = 0;
    /// <summary>SEEK_CUR.</summary>
    public const int SEEK_CUR = 1;
    /// <summary>SEEK_END.</summary>
    public const int SEEK_END = 2;
    /// <summary>Longest memfd name (249 bytes, NAME_MAX − strlen("memfd:")).</summary>
    public const int MaxNameLength = 249;
}

public sealed partial class Kernel
{
    /// <summary>memfd_create(name, flags): EINVAL for unknown flags or a name over 249 bytes; EMFILE.
    /// Without MFD_ALLOW_SEALING the seals start as F_SEAL_SEAL.</summary>
    public long MemfdCreate(Process p, string name, uint flags)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(name);
        CheckUsable();
        if ((flags & ~(MemfdConsts.MFD_CLOEXEC | MemfdConsts.MFD_ALLOW_SEALING | MemfdConsts.MFD_HUGETLB)) != 0) return Fail(Errno.EINVAL);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MemfdConsts.MaxNameLength) return Fail(Errno.EINVAL);
        int fd = p.Reserve(0, (flags & MemfdConsts.MFD_CLOEXEC) != 0);
        if (fd < 0) return Fail(Errno.EMFILE);
        var inode = new ShmemInode(Kho, name, (flags & MemfdConsts.MFD_ALLOW_SEALING) != 0, (flags & MemfdConsts.MFD_HUGETLB) != 0);
        p.Install(fd, new MemfdFile(this, inode, OpenFlags.O_RDWR | OpenFlags.O_LARGEFILE));
        return fd;
    }

    private Errno MemfdOf(Process p, int fd, out MemfdFile? m)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        m = null;
        var f = p.FileOf(fd);
        if (f is null || f.IsPath) return Errno.EBADF;
        m = f as MemfdFile;
        return Errno.Ok;
    }

    /// <summary>ftruncate(fd, length): EINVAL (negative, not writable, not a regular file), EPERM for a seal
    /// or while LUO keeps the size frozen (luo.md §6.2; errno believed EPERM, §9 q4).</summary>
    public long Ftruncate(Process p, int fd, long length)
    {
        Errno rc = MemfdOf(p, fd, out var m);
        if (rc != Errno.Ok) return Fail(rc);
        if (length < 0 || m is null || !m.CanWrite) return Fail(Errno.EINVAL);
        var inode = m.Inode;
        if (length < inode.Size && (inode.Seals & Seals.F_SEAL_SHRINK) != 0) return Fail(Errno.EPERM);
        if (length > inode.Size && (inode.Seals & Seals.F_SEAL_GROW) != 0) return Fail(Errno.EPERM);
        if (length != inode.Size && inode.SizeFrozen) return Fail(Errno.EPERM);
        inode.SetSize(length);
        return 0;
    }

    /// <summary>write(fd, buf, count) at the file offset. When a page-cache page cannot be allocated the write
    /// is short (bytes before that page) or, if nothing was written, fails ENOMEM (shmem_write_begin).</summary>
    public long Write(Process p, int fd, ulong buf, ulong count) => WriteCore(p, fd, buf, count, null);

    /// <summary>pwrite(fd, buf, count, offset): EINVAL for a negative offset.</summary>
    public long Pwrite(Process p, int fd, ulong buf, ulong count, long offset) =>
        offset < 0 ? Fail(Errno.EINVAL) : WriteCore(p, fd, buf, count, offset);

    private long WriteCore(Process p, int fd, ulong buf, ulong count, long? offset)
    {
        Errno rc = MemfdOf(p, fd, out var m);
        if (rc != Errno.Ok) return Fail(rc);
        var f = p.FileOf(fd)!;
        if (!f.CanWrite) return Fail(Errno.EBADF);
        if (f is DevNullFile) return (long)count;
        if (m is null) return Fail(Errno.EINVAL);
        if (count == 0) return 0;
        var inode = m.Inode;
        if ((inode.Seals & (Seals.F_SEAL_WRITE | Seals.F_SEAL_FUTURE_WRITE)) != 0) return Fail(Errno.EPERM);
        long pos = offset ?? m.Position;
        if (count > int.MaxValue) count = int.MaxValue & ~(ulong)(UserMemory.PageSize - 1);
        long end = pos + (long)count;
        if (end > inode.Size && ((inode.Seals & Seals.F_SEAL_GROW) != 0 || inode.SizeFrozen)) return Fail(Errno.EPERM);
        var data = new byte[count];
        if (!p.Memory.TryRead(buf, data)) return Fail(Errno.EFAULT);
        int written = inode.WriteBytes(pos, data);
        if (written == 0) return Fail(Errno.ENOMEM);                     // shmem page allocation failed
        end = pos + written;                                              // a short write stops at that page
        if (end > inode.Size) inode.Size = end;
        if (offset is null) m.Position = end;
        return written;
    }

    /// <summary>read(fd, buf, count) from the file offset.</summary>
    public long Read(Process p, int fd, ulong buf, ulong count) => ReadCore(p, fd, buf, count, null);

    /// <summary>pread(fd, buf, count, offset).</summary>
    public long Pread(Process p, int fd, ulong buf, ulong count, long offset) =>
        offset < 0 ? Fail(Errno.EINVAL) : ReadCore(p, fd, buf, count, offset);

    private long ReadCore(Process p, int fd, ulong buf, ulong count, long? offset)
    {
        Errno rc = MemfdOf(p, fd, out var m);
        if (rc != Errno.Ok) return Fail(rc);
        var f = p.FileOf(fd)!;
        if (!f.CanRead) return Fail(Errno.EBADF);
        if (f is DevNullFile) return 0;
        if (m is null) return Fail(Errno.EINVAL);
        long pos = offset ?? m.Position;
        long avail = Math.Max(0, m.Inode.Size - pos);
        int n = (int)Math.Min((ulong)avail, Math.Min(count, int.MaxValue));
        if (n == 0) return 0;
        var data = new byte[n];
        m.Inode.ReadBytes(pos, data);
        if (!p.Memory.TryWrite(buf, data)) return Fail(Errno.EFAULT);
        if (offset is null) m.Position = pos + n;
        return n;
    }

    /// <summary>lseek(fd, offset, whence): EINVAL for a bad whence or negative result; ESPIPE for files
    /// without a position (session and device files).</summary>
    public long Lseek(Process p, int fd, long offset, int whence)
    {
        Errno rc = MemfdOf(p, fd, out var m);
        if (rc != Errno.Ok) return Fail(rc);
        var f = p.FileOf(fd)!;
        if (f is DevNullFile) return 0;
        if (m is null) return Fail(Errno.ESPIPE);
        long pos = whence switch
        {
            MemfdConsts.SEEK_SET => offset,
            MemfdConsts.SEEK_CUR => m.Position + offset,
            MemfdConsts.SEEK_END => m.Inode.Size + offset,
            _ => -1,
        };
        if (pos < 0) return Fail(Errno.EINVAL);
        m.Position = pos;
        return pos;
    }

    /// <summary>mmap(NULL, len, prot, flags, fd, off) of a memfd: the mapping's pages are the memfd's arena
    /// pages (shared view; MAP_PRIVATE copies on write). EINVAL (len 0, unaligned offset, no MAP_SHARED or
    /// MAP_PRIVATE), EBADF, ENODEV (not a memfd), EACCES (shared writable on a read-only file), EPERM (write
    /// seal).</summary>
    public long Mmap(Process p, ulong length, Prot prot, int flags, int fd, long offset)
    {
        Errno rc = MemfdOf(p, fd, out var m);
        if (length == 0 || offset < 0 || offset % UserMemory.PageSize != 0) return Fail(Errno.EINVAL);
        int type = flags & 3;
        if (type is not (MemfdConsts.MAP_SHARED or MemfdConsts.MAP_PRIVATE)) return Fail(Errno.EINVAL);
        if (rc != Errno.Ok) return Fail(rc);
        if (m is null) return Fail(Errno.ENODEV);
        bool shared = type == MemfdConsts.MAP_SHARED;
        if (!m.CanRead) return Fail(Errno.EACCES);
        if (shared && (prot & Prot.Write) != 0)
        {
            if (!m.CanWrite) return Fail(Errno.EACCES);
            if ((m.Inode.Seals & (Seals.F_SEAL_WRITE | Seals.F_SEAL_FUTURE_WRITE)) != 0) return Fail(Errno.EPERM);
        }
        ulong pages = (length + UserMemory.PageSize - 1) / UserMemory.PageSize;
        ulong addr = p.Memory.MapFile(m, (ulong)offset / UserMemory.PageSize, pages, prot, !shared);
        for (ulong i = 0; i < pages; i++) m.Get();
        return (long)addr;
    }

    /// <summary>munmap(addr, len): EINVAL for an unaligned address or zero length.</summary>
    public long Munmap(Process p, ulong addr, ulong length)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        if (length == 0 || addr % UserMemory.PageSize != 0) return Fail(Errno.EINVAL);
        foreach (var f in p.Memory.UnmapCore(addr, length)) f.Put();
        return 0;
    }
}
