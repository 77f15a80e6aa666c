using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>
/// Typed convenience wrappers over the raw syscall surface, shaped like the selftest helpers
/// (scenarios.md §1.2): they build the uAPI struct in a per-process scratch buffer in user memory, call
/// <see cref="Kernel.Ioctl"/> and parse the reply. Results are the raw syscall results (0 or −errno).
/// </summary>
public static class LuoSyscalls
{
    private const int ScratchSize = 2 * UserMemory.PageSize;
    private static readonly ConditionalWeakTable<Process, StrongBox<ulong>> s_scratch = [];

    /// <summary>A 2-page read-write scratch buffer in <paramref name="p"/>'s memory (mapped on first use).</summary>
    public static ulong Scratch(Process p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return s_scratch.GetValue(p, q => new StrongBox<ulong>(q.Memory.Map(ScratchSize, Prot.Read | Prot.Write))).Value;
    }

    /// <summary>ioctl with a raw struct: copies <paramref name="inOut"/> to user memory, calls, copies back.</summary>
    public static long RawIoctl(Kernel k, Process p, int fd, uint cmd, Span<byte> inOut)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(p);
        if (inOut.Length > ScratchSize) throw new ArgumentOutOfRangeException(nameof(inOut), "struct larger than the scratch buffer");
        ulong a = Scratch(p);
        p.Memory.Poke(a, new byte[ScratchSize]);
        p.Memory.Poke(a, inOut);
        long rc = k.Ioctl(p, fd, cmd, a);
        p.Memory.Peek(a, inOut.Length).CopyTo(inOut);
        return rc;
    }

    /// <summary>open("/dev/liveupdate", O_RDWR).</summary>
    public static long OpenDevice(Kernel k, Process p)
    {
        ArgumentNullException.ThrowIfNull(k);
        return k.Open(p, Kernel.LiveupdatePath, OpenFlags.O_RDWR);
    }

    /// <summary>A {size, fd, name} session struct of <paramref name="size"/> bytes with the name's UTF-8 bytes
    /// (at most <paramref name="maxName"/>) at the name offset, shared by the session commands of every uAPI.</summary>
    internal static byte[] SessionStruct(string name, int size = LiveupdateUapi.SessionStructSize, int maxName = 63)
    {
        ArgumentNullException.ThrowIfNull(name);
        var b = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)size);
        byte[] n = Encoding.UTF8.GetBytes(name);
        n.AsSpan(0, Math.Min(n.Length, maxName)).CopyTo(b.AsSpan(LiveupdateUapi.NameOffset));
        return b;
    }

    /// <summary>Issues a session command whose reply carries an fd; <paramref name="fd"/> is it on success, else -1.</summary>
    internal static long SessionFdIoctl(Kernel k, Process p, int devFd, uint cmd, byte[] b, out int fd)
    {
        long rc = RawIoctl(k, p, devFd, cmd, b);
        fd = rc == 0 ? BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset)) : -1;
        return rc;
    }

    /// <summary>CREATE_SESSION (name capped at 63 bytes like the selftest helper).</summary>
    public static long CreateSession(Kernel k, Process p, int devFd, string name, out int fd) =>
        SessionFdIoctl(k, p, devFd, LiveupdateUapi.CreateSession, SessionStruct(name), out fd);

    /// <summary>RETRIEVE_SESSION.</summary>
    public static long RetrieveSession(Kernel k, Process p, int devFd, string name, out int fd) =>
        SessionFdIoctl(k, p, devFd, LiveupdateUapi.RetrieveSession, SessionStruct(name), out fd);

    /// <summary>The 16-byte {size, fd, token} argument shared by the fd commands of every uAPI.</summary>
    internal static byte[] FdStruct(int fd, ulong token)
    {
        var b = new byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset), fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(LiveupdateUapi.TokenOffset), token);
        return b;
    }

    /// <summary>PRESERVE_FD.</summary>
    public static long PreserveFd(Kernel k, Process p, int sessionFd, int fd, ulong token) =>
        RawIoctl(k, p, sessionFd, LiveupdateUapi.PreserveFd, FdStruct(fd, token));

    /// <summary>RETRIEVE_FD.</summary>
    public static long RetrieveFd(Kernel k, Process p, int sessionFd, ulong token, out int fd)
    {
        var b = FdStruct(0, token);
        long rc = RawIoctl(k, p, sessionFd, LiveupdateUapi.RetrieveFd, b);
        fd = rc == 0 ? BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset)) : -1;
        return rc;
    }

    /// <summary>FINISH (reserved = 0).</summary>
    public static long Finish(Kernel k, Process p, int sessionFd)
    {
        var b = new byte[LiveupdateUapi.FinishStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FinishStructSize);
        return RawIoctl(k, p, sessionFd, LiveupdateUapi.Finish, b);
    }

    /// <summary>GET_NAME with a zeroed 72-byte struct; the name up to its NUL.</summary>
    public static long GetName(Kernel k, Process p, int sessionFd, out string name)
    {
        var b = new byte[LiveupdateUapi.GetNameStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.GetNameStructSize);
        long rc = RawIoctl(k, p, sessionFd, LiveupdateUapi.GetName, b);
        name = rc == 0 ? LuoStrings.FromField(b.AsSpan(LiveupdateUapi.NameOffset, LiveupdateUapi.NameLength)) : "";
        return rc;
    }

    /// <summary>write() of <paramref name="data"/> through the scratch buffer (chunked); returns the bytes written,
    /// or the error when nothing could be written.</summary>
    public static long WriteBytes(Kernel k, Process p, int fd, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(k);
        long total = 0;
        ulong a = Scratch(p);
        while (data.Length > 0)
        {
            int n = Math.Min(data.Length, ScratchSize);
            p.Memory.Poke(a, data[..n]);
            long rc = k.Write(p, fd, a, (ulong)n);
            if (rc < 0) return total > 0 ? total : rc;   // like write(): bytes so far, else the error
            total += rc;
            data = data[(int)rc..];                       // a short write (ENOMEM at a page) is retried from there
        }
        return total;
    }

    /// <summary>read() of up to <paramref name="count"/> bytes (chunked); returns the bytes read.</summary>
    public static long ReadBytes(Kernel k, Process p, int fd, int count, out byte[] data)
    {
        ArgumentNullException.ThrowIfNull(k);
        var result = new List<byte>();
        ulong a = Scratch(p);
        data = [];
        while (count > 0)
        {
            int n = Math.Min(count, ScratchSize);
            long rc = k.Read(p, fd, a, (ulong)n);
            if (rc < 0) return rc;
            if (rc == 0) break;
            result.AddRange(p.Memory.Peek(a, (int)rc));
            count -= (int)rc;
        }
        data = [.. result];
        return data.Length;
    }

    /// <summary>The selftest helper "create and preserve memfd": memfd "test_mfd", one page, text + NUL
    /// written through a shared mapping, PRESERVE_FD, then the memfd is closed.</summary>
    public static long CreateAndPreserveMemfd(Kernel k, Process p, int sessionFd, ulong token, string text)
    {
        ArgumentNullException.ThrowIfNull(k);
        long mfd = k.MemfdCreate(p, "test_mfd", 0);
        if (mfd < 0) return mfd;
        int fd = (int)mfd;
        long rc = k.Ftruncate(p, fd, UserMemory.PageSize);
        if (rc == 0)
        {
            long addr = k.Mmap(p, UserMemory.PageSize, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, fd, 0);
            if (addr < 0) rc = addr;
            else
            {
                byte[] t = Encoding.UTF8.GetBytes(text + "\0");
                if (!p.Memory.TryWrite((ulong)addr, t)) rc = -(long)Errno.EFAULT;
                k.Munmap(p, (ulong)addr, UserMemory.PageSize);
            }
        }
        if (rc == 0) rc = PreserveFd(k, p, sessionFd, fd, token);
        k.Close(p, fd);
        return rc;
    }

    /// <summary>The selftest helper "restore and verify memfd": RETRIEVE_FD, map one page read-only, compare
    /// as a C string (when <paramref name="text"/> is given). Returns the fd or −errno (EINVAL on mismatch).</summary>
    public static long RestoreAndVerifyMemfd(Kernel k, Process p, int sessionFd, ulong token, string? text)
    {
        ArgumentNullException.ThrowIfNull(k);
        long rc = RetrieveFd(k, p, sessionFd, token, out int fd);
        if (rc < 0) return rc;
        long addr = k.Mmap(p, UserMemory.PageSize, Prot.Read, MemfdConsts.MAP_SHARED, fd, 0);
        if (addr < 0) { k.Close(p, fd); return addr; }
        var page = new byte[UserMemory.PageSize];
        bool ok = p.Memory.TryRead((ulong)addr, page);
        k.Munmap(p, (ulong)addr, UserMemory.PageSize);
        if (!ok) { k.Close(p, fd); return -(long)Errno.EFAULT; }
        if (text is not null)
        {
            byte[] t = Encoding.UTF8.GetBytes(text);
            if (!page.AsSpan(0, t.Length).SequenceEqual(t) || page[t.Length] != 0) { k.Close(p, fd); return -(long)Errno.EINVAL; }
        }
        return fd;
    }
}
