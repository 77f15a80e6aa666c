using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>fcntl(2) commands and fd flags used by the model.</summary>
public static class FcntlCmd
{
    /// <summary>F_DUPFD.</summary>
    public const int F_DUPFD = 0;
    /// <summary>F_GETFD.</summary>
    public const int F_GETFD = 1;
    /// <summary>F_SETFD.</summary>
    public const int F_SETFD = 2;
    /// <summary>F_DUPFD_CLOEXEC.</summary>
    public const int F_DUPFD_CLOEXEC = 1030;
    /// <summary>F_ADD_SEALS.</summary>
    public const int F_ADD_SEALS = 1033;
    /// <summary>F_GET_SEALS.</summary>
    public const int F_GET_SEALS = 1034;
    /// <summary>FD_CLOEXEC.</summary>
    public const int FD_CLOEXEC = 1;
    /// <summary>FIONCLEX ioctl.</summary>
    public const uint FIONCLEX = 0x5450;
    /// <summary>FIOCLEX ioctl.</summary>
    public const uint FIOCLEX = 0x5451;
}

public sealed partial class Kernel
{
    /// <summary>Path of the LUO device node.</summary>
    public const string LiveupdatePath = "/dev/liveupdate";

    /// <summary>open(path, flags): "/dev/liveupdate" (ENOENT when LUO is disabled; EBUSY; EIO) and
    /// "/dev/null". The fd number is reserved first (EMFILE before any other error).</summary>
    public long Open(Process p, string path, int flags)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(path);
        CheckUsable();
        int fd = p.Reserve(0, (flags & OpenFlags.O_CLOEXEC) != 0);
        if (fd < 0) return Fail(Errno.EMFILE);
        OpenFile? file = null;
        Errno rc = Errno.Ok;
        bool isPath = (flags & OpenFlags.O_PATH) != 0;
        switch (path)
        {
            case LiveupdatePath when Luo.Enabled:
                if (isPath) { file = new PathFile(this, path, flags); break; }
                rc = Luo.DeviceOpen();
                if (rc == Errno.Ok) file = new DeviceFile(this, flags);
                break;
            case "/dev/null":
                file = isPath ? new PathFile(this, path, flags) : new DevNullFile(this, flags);
                break;
            default:
                rc = Errno.ENOENT;
                break;
        }
        if (file is null)
        {
            p.Unreserve(fd);
            return Fail(rc);
        }
        p.Install(fd, file);
        return fd;
    }

    /// <summary>close(fd): EBADF for a closed fd; otherwise 0 (release results are not reported), or the
    /// <see cref="Errno.Frozen"/> sentinel when the release would block forever.</summary>
    public long Close(Process p, int fd)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        var f = p.Remove(fd);
        if (f is null) return Fail(Errno.EBADF);
        return f.Put() == Errno.Frozen ? Fail(Errno.Frozen) : 0;
    }

    /// <summary>dup(fd): lowest free fd, close-on-exec cleared.</summary>
    public long Dup(Process p, int fd) => DupFrom(p, fd, 0, false);

    private long DupFrom(Process p, int fd, int min, bool cloexec)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        var f = p.GetFile(fd);
        if (f is null) return Fail(Errno.EBADF);
        int nfd = p.Reserve(min, cloexec);
        if (nfd < 0)
        {
            f.Put();
            return Fail(Errno.EMFILE);
        }
        p.Install(nfd, f);
        return nfd;
    }

    /// <summary>dup2(old, new): same fd → new if valid; new ≥ RLIMIT_NOFILE → EBADF; replaces silently.</summary>
    public long Dup2(Process p, int oldFd, int newFd)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (oldFd == newFd) return p.FileOf(oldFd) is null ? Fail(Errno.EBADF) : newFd;
        return Dup3(p, oldFd, newFd, 0);
    }

    /// <summary>dup3(old, new, flags): EINVAL for equal fds or unknown flags.</summary>
    public long Dup3(Process p, int oldFd, int newFd, int flags)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        if ((flags & ~OpenFlags.O_CLOEXEC) != 0 || oldFd == newFd) return Fail(Errno.EINVAL);
        if (newFd < 0 || (ulong)newFd >= p.NofileSoft) return Fail(Errno.EBADF);
        var f = p.GetFile(oldFd);
        if (f is null) return Fail(Errno.EBADF);
        var old = p.Replace(newFd, f, (flags & OpenFlags.O_CLOEXEC) != 0);
        old?.Put();
        return newFd;
    }

    /// <summary>fcntl(fd, cmd, arg): F_DUPFD(_CLOEXEC), F_GETFD, F_SETFD, F_ADD_SEALS, F_GET_SEALS.</summary>
    public long Fcntl(Process p, int fd, int cmd, long arg = 0)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        var f = p.FileOf(fd);
        if (f is null) return Fail(Errno.EBADF);
        switch (cmd)
        {
            case FcntlCmd.F_DUPFD or FcntlCmd.F_DUPFD_CLOEXEC:
                if (arg < 0 || (ulong)arg >= p.NofileSoft) return Fail(Errno.EINVAL);
                return DupFrom(p, fd, (int)arg, cmd == FcntlCmd.F_DUPFD_CLOEXEC);
            case FcntlCmd.F_GETFD:
                return p.IsCloseOnExec(fd) ? FcntlCmd.FD_CLOEXEC : 0;
            case FcntlCmd.F_SETFD:
                p.SetCloseOnExec(fd, (arg & FcntlCmd.FD_CLOEXEC) != 0);
                return 0;
            case FcntlCmd.F_ADD_SEALS:
                return AddSeals(p, f, arg);
            case FcntlCmd.F_GET_SEALS:
                if (f is not MemfdFile gm || f.IsPath) return Fail(Errno.EINVAL);
                return gm.Inode.Seals;
            default:
                return Fail(Errno.EINVAL);
        }
    }

    private long AddSeals(Process p, OpenFile f, long arg)
    {
        if (f is not MemfdFile m || f.IsPath) return Fail(Errno.EINVAL);
        if (!f.CanWrite) return Fail(Errno.EPERM);
        if ((arg & ~(long)Seals.All) != 0) return Fail(Errno.EINVAL);
        var inode = m.Inode;
        if ((inode.Seals & Seals.F_SEAL_SEAL) != 0) return Fail(Errno.EPERM);
        if ((arg & Seals.F_SEAL_WRITE) != 0 && (inode.Seals & Seals.F_SEAL_WRITE) == 0
            && AnyProcess(q => q.Memory.HasWritableSharedMapping(inode)))
            return Fail(Errno.EBUSY);
        inode.Seals |= (uint)arg;
        return 0;
    }

    /// <summary>ioctl(fd, cmd, arg) with <paramref name="arg"/> a user address. FIOCLEX/FIONCLEX are handled
    /// by the VFS; files without an ioctl op give ENOTTY.</summary>
    /// <remarks>Like fdget() in a process whose fd table is shared, the call holds a reference on the
    /// description for its whole duration: a close() by another thread releases it only afterwards (fdput()
    /// here then runs the release; if that would block forever the result is <see cref="Errno.Frozen"/>).</remarks>
    public long Ioctl(Process p, int fd, uint cmd, ulong arg)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        var f = p.GetFile(fd);
        if (f is null) return Fail(Errno.EBADF);
        long rc;
        if (f.IsPath) rc = Fail(Errno.EBADF);
        else if (cmd == FcntlCmd.FIOCLEX) { p.SetCloseOnExec(fd, true); rc = 0; }
        else if (cmd == FcntlCmd.FIONCLEX) { p.SetCloseOnExec(fd, false); rc = 0; }
        else rc = f.Ioctl(p, cmd, arg);
        return f.Put() == Errno.Frozen ? Fail(Errno.Frozen) : rc;
    }

    /// <summary>Model-only fd passing (SCM_RIGHTS): installs <paramref name="fd"/> of <paramref name="from"/>
    /// into <paramref name="to"/> at the lowest free number (same open file description).</summary>
    public long PassFd(Process from, int fd, Process to, bool cloexec = false)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        CheckUsable();
        var f = from.GetFile(fd);
        if (f is null) return Fail(Errno.EBADF);
        int nfd = to.Reserve(0, cloexec);
        if (nfd < 0)
        {
            f.Put();
            return Fail(Errno.EMFILE);
        }
        to.Install(nfd, f);
        return nfd;
    }
}
