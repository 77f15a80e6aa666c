using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;
using KernelBoot = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit.Concurrency;

/// <summary>
/// The LUO ioctls for one thread of a multi-threaded process: like <see cref="LuoSyscalls"/>, but each thread
/// passes its own user buffer (mapped before the threads start), since threads of one process share the address
/// space and <see cref="LuoSyscalls"/> keeps one scratch buffer per process.
/// </summary>
public static class UserCalls
{
    /// <summary>Bytes a thread's buffer must span.</summary>
    public const int BufferBytes = UserMemory.PageSize;

    /// <summary>Maps <paramref name="count"/> per-thread buffers in <paramref name="p"/> (call before the
    /// threads start: mapping is not safe while other threads run syscalls).</summary>
    public static ulong[] MapBuffers(Process p, int count)
    {
        ArgumentNullException.ThrowIfNull(p);
        ulong a = p.Memory.Map((ulong)count * BufferBytes, Prot.Read | Prot.Write);
        return [.. Enumerable.Range(0, count).Select(i => a + ((ulong)i * BufferBytes))];
    }

    private static long Call(KernelBoot k, Process p, ulong buf, int fd, uint cmd, Span<byte> io)
    {
        p.Memory.Poke(buf, io);
        long rc = k.Ioctl(p, fd, cmd, buf);
        p.Memory.Peek(buf, io.Length).CopyTo(io);
        return rc;
    }

    private static long SessionCall(KernelBoot k, Process p, ulong buf, int dev, uint cmd, string name, out int fd)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapi.SessionStructSize];
        b.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.SessionStructSize);
        byte[] n = Encoding.UTF8.GetBytes(name);
        n.AsSpan(0, Math.Min(n.Length, 63)).CopyTo(b[LiveupdateUapi.NameOffset..]);
        long rc = Call(k, p, buf, dev, cmd, b);
        fd = rc == 0 ? BinaryPrimitives.ReadInt32LittleEndian(b[LiveupdateUapi.FdOffset..]) : -1;
        return rc;
    }

    /// <summary>LIVEUPDATE_IOCTL_CREATE_SESSION.</summary>
    public static long CreateSession(KernelBoot k, Process p, ulong buf, int dev, string name, out int fd) =>
        SessionCall(k, p, buf, dev, LiveupdateUapi.CreateSession, name, out fd);

    /// <summary>LIVEUPDATE_IOCTL_RETRIEVE_SESSION.</summary>
    public static long RetrieveSession(KernelBoot k, Process p, ulong buf, int dev, string name, out int fd) =>
        SessionCall(k, p, buf, dev, LiveupdateUapi.RetrieveSession, name, out fd);

    /// <summary>LIVEUPDATE_SESSION_PRESERVE_FD.</summary>
    public static long PreserveFd(KernelBoot k, Process p, ulong buf, int session, int fd, ulong token)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteInt32LittleEndian(b[LiveupdateUapi.FdOffset..], fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b[LiveupdateUapi.TokenOffset..], token);
        return Call(k, p, buf, session, LiveupdateUapi.PreserveFd, b);
    }

    /// <summary>LIVEUPDATE_SESSION_RETRIEVE_FD.</summary>
    public static long RetrieveFd(KernelBoot k, Process p, ulong buf, int session, ulong token, out int fd)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteInt32LittleEndian(b[LiveupdateUapi.FdOffset..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(b[LiveupdateUapi.TokenOffset..], token);
        long rc = Call(k, p, buf, session, LiveupdateUapi.RetrieveFd, b);
        fd = rc == 0 ? BinaryPrimitives.ReadInt32LittleEndian(b[LiveupdateUapi.FdOffset..]) : -1;
        return rc;
    }

    /// <summary>LIVEUPDATE_SESSION_FINISH.</summary>
    public static long Finish(KernelBoot k, Process p, ulong buf, int session)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapi.FinishStructSize];
        b.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FinishStructSize);
        return Call(k, p, buf, session, LiveupdateUapi.Finish, b);
    }

    /// <summary>LIVEUPDATE_SESSION_GET_NAME (72-byte struct, zero-initialised); the name on success.</summary>
    public static long GetName(KernelBoot k, Process p, ulong buf, int session, out string? name)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapi.GetNameStructSize];
        b.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.GetNameStructSize);
        long rc = Call(k, p, buf, session, LiveupdateUapi.GetName, b);
        name = null;
        if (rc == 0)
        {
            var n = b.Slice(LiveupdateUapi.NameOffset, LiveupdateUapi.NameLength);
            int len = n.IndexOf((byte)0);
            name = Encoding.UTF8.GetString(n[..(len < 0 ? n.Length : len)]);
        }
        return rc;
    }
}
