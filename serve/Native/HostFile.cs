using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;

namespace LuoModel.Serve.Native;

/// <summary>What a descriptor received from a test process is (selftest-shim.md §6.1 classification).</summary>
internal enum HostFileKind
{
    /// <summary>A shmem memfd (regular file on tmpfs whose link starts with "/memfd:").</summary>
    Memfd,
    /// <summary>A hugetlbfs memfd (not shmem: no handler takes it).</summary>
    HugetlbMemfd,
    /// <summary>Anything else (character device, socket, disk file…).</summary>
    Other,
}

/// <summary>
/// A host descriptor the daemon holds for the model (<see cref="IHostFileBacking"/>): a memfd received with
/// SCM_RIGHTS at PRESERVE_FD (the same open file description as the test's), or a memfd the daemon created at
/// RETRIEVE_FD. Closed exactly once, when the model releases it.
/// </summary>
internal sealed unsafe class HostFile : IHostFileBacking
{
    private int _fd;

    private HostFile(int fd, HostFileId id)
    {
        _fd = fd;
        Id = id;
    }

    /// <summary>The held descriptor (-1 once released).</summary>
    public int Fd => _fd;

    /// <inheritdoc/>
    public HostFileId Id { get; }

    /// <summary>Called after <see cref="Release"/> (the daemon counts open host files).</summary>
    public Action<HostFile>? Released { get; set; }

    /// <inheritdoc/>
    public long Size => Stat(_fd, out _, out long size, out _) ? size : 0;

    /// <inheritdoc/>
    public long Position => _fd < 0 ? 0 : Math.Max(0, Libc.Lseek(_fd, 0, LinuxConst.SEEK_CUR));

    /// <inheritdoc/>
    public uint Seals
    {
        get
        {
            if (_fd < 0) return 0;
            int s = Libc.Fcntl(_fd, LinuxConst.F_GET_SEALS, 0);
            return s < 0 ? 0 : (uint)s;
        }
    }

    /// <inheritdoc/>
    public int ReadAt(long offset, Span<byte> destination)
    {
        if (_fd < 0) return -(int)LuoModel.Kho.Errno.EBADF;
        int done = 0;
        fixed (byte* d = destination)
        {
            while (done < destination.Length)
            {
                nint n = Libc.Pread(_fd, d + done, (nuint)(destination.Length - done), offset + done);
                if (n < 0)
                {
                    int e = Libc.Errno;
                    if (e == LinuxConst.EINTR) continue;
                    return -e;
                }
                if (n == 0) break;
                done += (int)n;
            }
        }
        return done;
    }

    /// <inheritdoc/>
    public void Release()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        Libc.Close(fd);
        Released?.Invoke(this);
    }

    /// <summary>Takes ownership of <paramref name="fd"/>; null (and the fd closed) when it cannot be stat'ed.</summary>
    public static HostFile? Adopt(int fd)
    {
        if (!Stat(fd, out _, out _, out var id))
        {
            Libc.Close(fd);
            return null;
        }
        return new HostFile(fd, id);
    }

    /// <summary>statx(fd, "", AT_EMPTY_PATH): mode, size and (dev, ino).</summary>
    public static bool Stat(int fd, out int mode, out long size, out HostFileId id)
    {
        mode = 0;
        size = 0;
        id = default;
        if (fd < 0) return false;
        byte* buf = stackalloc byte[LinuxConst.StatxSize];
        if (Libc.Statx(fd, "", LinuxConst.AT_EMPTY_PATH, LinuxConst.STATX_BASIC_STATS, buf) < 0) return false;
        var s = new ReadOnlySpan<byte>(buf, LinuxConst.StatxSize);
        mode = BinaryPrimitives.ReadUInt16LittleEndian(s[LinuxConst.StatxMode..]);
        size = (long)BinaryPrimitives.ReadUInt64LittleEndian(s[LinuxConst.StatxSizeField..]);
        ulong major = BinaryPrimitives.ReadUInt32LittleEndian(s[LinuxConst.StatxDevMajor..]);
        ulong minor = BinaryPrimitives.ReadUInt32LittleEndian(s[LinuxConst.StatxDevMinor..]);
        id = new HostFileId((major << 32) | minor, BinaryPrimitives.ReadUInt64LittleEndian(s[LinuxConst.StatxIno..]));
        return true;
    }

    /// <summary>The /proc/self/fd link text of <paramref name="fd"/> ("" when unreadable).</summary>
    public static string LinkText(int fd)
    {
        byte* buf = stackalloc byte[512];
        nint n = Libc.Readlink("/proc/self/fd/" + fd.ToString(System.Globalization.CultureInfo.InvariantCulture), buf, 512);
        return n <= 0 ? "" : Encoding.UTF8.GetString(buf, (int)n);
    }

    /// <summary>Classifies a received descriptor (selftest-shim.md §6.1).</summary>
    public static HostFileKind Classify(int fd, out string link)
    {
        link = LinkText(fd);
        if (!Stat(fd, out int mode, out _, out _) || (mode & LinuxConst.S_IFMT) != LinuxConst.S_IFREG) return HostFileKind.Other;
        if (!link.StartsWith("/memfd:", StringComparison.Ordinal)) return HostFileKind.Other;
        byte* sfs = stackalloc byte[128];
        if (Libc.Fstatfs(fd, sfs) < 0) return HostFileKind.Other;
        long type = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(sfs, 8));
        return type switch
        {
            LinuxConst.TMPFS_MAGIC => HostFileKind.Memfd,
            LinuxConst.HUGETLBFS_MAGIC => HostFileKind.HugetlbMemfd,
            _ => HostFileKind.Other,
        };
    }

    /// <summary>Creates a real memfd holding a retrieved file's bytes (selftest-shim.md §6.2): name "" like the
    /// kernel's retrieve, contents, size, offset and seals. Returns null with <paramref name="errno"/> set on
    /// failure.</summary>
    public static HostFile? CreateMemfd(MemfdFile model, out int errno)
    {
        ArgumentNullException.ThrowIfNull(model);
        var inode = model.Inode;
        // a memfd made without MFD_ALLOW_SEALING starts (and stays) with F_SEAL_SEAL alone (memfd-v1 retrieve)
        bool sealable = inode.Seals != LuoModel.Kernel.Seals.F_SEAL_SEAL;
        uint flags = LinuxConst.MFD_CLOEXEC | (sealable ? LinuxConst.MFD_ALLOW_SEALING : 0);
        int fd = Libc.MemfdCreate("", flags);
        if (fd < 0)
        {
            errno = Libc.Errno;
            return null;
        }
        errno = 0;
        if (Libc.Ftruncate(fd, inode.Size) < 0) return Fail(fd, out errno);
        var page = new byte[UserMemory.PageSize];
        foreach (var (index, _) in inode.Pages)
        {
            long pos = (long)index * UserMemory.PageSize;
            if (pos >= inode.Size) break;
            int n = Kernel.Kernel.ReadMemfdContents(model, pos, page);
            if (page.AsSpan(0, n).ContainsAnyExcept((byte)0))
            {
                fixed (byte* p = page)
                {
                    if (Libc.Pwrite(fd, p, (nuint)n, pos) != n) return Fail(fd, out errno);
                }
            }
        }
        if (model.Position > 0 && Libc.Lseek(fd, model.Position, LinuxConst.SEEK_SET) < 0) return Fail(fd, out errno);
        if (sealable && inode.Seals != 0 && Libc.Fcntl(fd, LinuxConst.F_ADD_SEALS, (int)inode.Seals) < 0) return Fail(fd, out errno);
        var h = Adopt(fd);
        if (h is null) errno = (int)LuoModel.Kho.Errno.EIO;
        return h;
    }

    private static HostFile? Fail(int fd, out int errno)
    {
        errno = Libc.Errno;
        Libc.Close(fd);
        return null;
    }
}
