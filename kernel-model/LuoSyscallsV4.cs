using System.Buffers.Binary;
using System.Text;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>
/// Typed wrappers for the v4 and rfc uAPIs (luo.md §7.2, §7.3), shaped like <see cref="LuoSyscalls"/>: the struct
/// is built in the process's scratch buffer, the raw ioctl result (0 or −errno) is returned and outputs parsed.
/// </summary>
public static class LuoSyscallsV4
{
    private static byte[] SizeValue(int size, uint value)
    {
        var b = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapiV4.ValueOffset), value);
        return b;
    }

    /// <summary>v4 LIVEUPDATE_IOCTL_GET_STATE: the global state's wire value (NORMAL=1 … UPDATED=4).</summary>
    public static long GetState(Kernel k, Process p, int devFd, out uint state)
    {
        var b = SizeValue(LiveupdateUapiV4.StateStructSize, 0);
        long rc = LuoSyscalls.RawIoctl(k, p, devFd, LiveupdateUapiV4.GetState, b);
        state = rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(LiveupdateUapiV4.ValueOffset)) : 0;
        return rc;
    }

    /// <summary>v4 LIVEUPDATE_IOCTL_SET_EVENT with <paramref name="ev"/> (LiveupdateUapiV4.Event*).</summary>
    public static long SetEvent(Kernel k, Process p, int devFd, uint ev) =>
        LuoSyscalls.RawIoctl(k, p, devFd, LiveupdateUapiV4.SetEvent, SizeValue(LiveupdateUapiV4.StateStructSize, ev));

    /// <summary>v4 LIVEUPDATE_IOCTL_CREATE_SESSION (64-byte struct, name capped at 55 bytes).</summary>
    public static long CreateSession(Kernel k, Process p, int devFd, string name, out int fd) =>
        LuoSyscalls.SessionFdIoctl(k, p, devFd, LiveupdateUapiV4.CreateSession,
            LuoSyscalls.SessionStruct(name, LiveupdateUapiV4.CreateStructSize, LiveupdateUapiV4.NameLength - 1), out fd);

    /// <summary>v4 LIVEUPDATE_IOCTL_RETRIEVE_SESSION (72-byte struct).</summary>
    public static long RetrieveSession(Kernel k, Process p, int devFd, string name, out int fd) =>
        LuoSyscalls.SessionFdIoctl(k, p, devFd, LiveupdateUapiV4.RetrieveSession,
            LuoSyscalls.SessionStruct(name, LiveupdateUapiV4.RetrieveStructSize, LiveupdateUapi.NameLength - 1), out fd);

    // v4's fd struct has mainline's layout and size (LiveupdateUapiV4.FdStructSize == LiveupdateUapi.FdStructSize).
    private static byte[] FdToken(int fd, ulong token) => LuoSyscalls.FdStruct(fd, token);

    /// <summary>v4 LIVEUPDATE_SESSION_PRESERVE_FD.</summary>
    public static long PreserveFd(Kernel k, Process p, int sessionFd, int fd, ulong token) =>
        LuoSyscalls.RawIoctl(k, p, sessionFd, LiveupdateUapiV4.PreserveFd, FdToken(fd, token));

    /// <summary>v4 LIVEUPDATE_SESSION_UNPRESERVE_FD (reserved = 0).</summary>
    public static long UnpreserveFd(Kernel k, Process p, int sessionFd, ulong token) =>
        LuoSyscalls.RawIoctl(k, p, sessionFd, LiveupdateUapiV4.UnpreserveFd, FdToken(0, token));

    /// <summary>v4 LIVEUPDATE_SESSION_RESTORE_FD.</summary>
    public static long RestoreFd(Kernel k, Process p, int sessionFd, ulong token, out int fd)
    {
        var b = FdToken(0, token);
        long rc = LuoSyscalls.RawIoctl(k, p, sessionFd, LiveupdateUapiV4.RestoreFd, b);
        fd = rc == 0 ? BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset)) : -1;
        return rc;
    }

    /// <summary>v4 LIVEUPDATE_SESSION_GET_STATE (incoming = 0): the session's state wire value.</summary>
    public static long SessionGetState(Kernel k, Process p, int sessionFd, out uint state)
    {
        var b = new byte[LiveupdateUapiV4.SessionStateStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapiV4.SessionStateStructSize);
        long rc = LuoSyscalls.RawIoctl(k, p, sessionFd, LiveupdateUapiV4.SessionGetState, b);
        state = rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(LiveupdateUapiV4.SessionStateOffset)) : 0;
        return rc;
    }

    /// <summary>v4 LIVEUPDATE_SESSION_SET_EVENT.</summary>
    public static long SessionSetEvent(Kernel k, Process p, int sessionFd, uint ev) =>
        LuoSyscalls.RawIoctl(k, p, sessionFd, LiveupdateUapiV4.SessionSetEvent, SizeValue(LiveupdateUapiV4.StateStructSize, ev));

    /// <summary>v4: RESTORE_FD of a one-page memfd and a byte-for-byte compare of its first page with
    /// <paramref name="expected"/>. Returns the fd, or −errno (EINVAL on a mismatch).</summary>
    public static long RestoreAndVerifyMemfd(Kernel k, Process p, int sessionFd, ulong token, ReadOnlySpan<byte> expected)
    {
        ArgumentNullException.ThrowIfNull(k);
        long rc = RestoreFd(k, p, sessionFd, token, out int fd);
        if (rc < 0) return rc;
        return VerifyPage(k, p, fd, expected);
    }

    private static long VerifyPage(Kernel k, Process p, int fd, ReadOnlySpan<byte> expected)
    {
        long addr = k.Mmap(p, UserMemory.PageSize, Prot.Read, MemfdConsts.MAP_SHARED, fd, 0);
        if (addr < 0) { k.Close(p, fd); return addr; }
        var page = new byte[UserMemory.PageSize];
        bool ok = p.Memory.TryRead((ulong)addr, page);
        k.Munmap(p, (ulong)addr, UserMemory.PageSize);
        if (!ok) { k.Close(p, fd); return -(long)Errno.EFAULT; }
        if (!page.AsSpan(0, expected.Length).SequenceEqual(expected)) { k.Close(p, fd); return -(long)Errno.EINVAL; }
        return fd;
    }

    // ----- rfc (luo.md §7.2) -----

    /// <summary>rfc LIVEUPDATE_IOCTL_FD_PRESERVE (flags = 0): the kernel-generated token.</summary>
    public static long RfcPreserve(Kernel k, Process p, int devFd, int fd, out ulong token)
    {
        var b = new byte[LiveupdateUapiRfc.FdStructSize];
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(LiveupdateUapiRfc.FdOffset), fd);
        long rc = LuoSyscalls.RawIoctl(k, p, devFd, LiveupdateUapiRfc.FdPreserve, b);
        token = rc == 0 ? BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(LiveupdateUapiRfc.TokenOffset)) : 0;
        return rc;
    }

    /// <summary>rfc LIVEUPDATE_IOCTL_FD_UNPRESERVE (arg points at the u64 token).</summary>
    public static long RfcUnpreserve(Kernel k, Process p, int devFd, ulong token)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, token);
        return LuoSyscalls.RawIoctl(k, p, devFd, LiveupdateUapiRfc.FdUnpreserve, b);
    }

    /// <summary>rfc LIVEUPDATE_IOCTL_FD_RESTORE (flags = 0).</summary>
    public static long RfcRestore(Kernel k, Process p, int devFd, ulong token, out int fd)
    {
        var b = new byte[LiveupdateUapiRfc.FdStructSize];
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(LiveupdateUapiRfc.TokenOffset), token);
        long rc = LuoSyscalls.RawIoctl(k, p, devFd, LiveupdateUapiRfc.FdRestore, b);
        fd = rc == 0 ? BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapiRfc.FdOffset)) : -1;
        return rc;
    }

    /// <summary>rfc LIVEUPDATE_IOCTL_GET_STATE: NORMAL=0 … UPDATED=3.</summary>
    public static long RfcGetState(Kernel k, Process p, int devFd, out uint state)
    {
        var b = new byte[4];
        long rc = LuoSyscalls.RawIoctl(k, p, devFd, LiveupdateUapiRfc.GetState, b);
        state = rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(b) : uint.MaxValue;
        return rc;
    }

    /// <summary>rfc LIVEUPDATE_IOCTL_EVENT_* (no argument): <paramref name="cmd"/> is one of the EventX values.</summary>
    public static long RfcEvent(Kernel k, Process p, int devFd, uint cmd)
    {
        ArgumentNullException.ThrowIfNull(k);
        return k.Ioctl(p, devFd, cmd, 0);
    }

    /// <summary>rfc: FD_RESTORE of a one-page memfd and a byte-for-byte compare of its first page.</summary>
    public static long RfcRestoreAndVerifyMemfd(Kernel k, Process p, int devFd, ulong token, ReadOnlySpan<byte> expected)
    {
        ArgumentNullException.ThrowIfNull(k);
        long rc = RfcRestore(k, p, devFd, token, out int fd);
        if (rc < 0) return rc;
        return VerifyPage(k, p, fd, expected);
    }
}
