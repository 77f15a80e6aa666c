using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>
/// The selftest helper library (lib/lu_utils.c / luo_test_utils.c, scenarios.md §1.2), rewritten over the
/// traced syscall surface with the same struct sizes and the same behaviour: C return conventions (fd or
/// −errno), the 63-character name cap, the memfd helpers' exact call sequence, the state file and
/// "daemonize and wait".
/// </summary>
public static class LibLiveupdate
{
    /// <summary>LUO_DEVICE.</summary>
    public const string DevicePath = "/dev/liveupdate";
    /// <summary>getpagesize().</summary>
    public const int PageSize = UserMemory.PageSize;
    /// <summary>Extra descriptors luo_ensure_nofile_limit() reserves for the test itself.</summary>
    public const int NofileSlack = 32;

    /// <summary>luo_open_device(): open(LUO_DEVICE, O_RDWR).</summary>
    public static long OpenDevice(ProgramContext c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.Sys.Open(c.Process, DevicePath, OpenFlags.O_RDWR);
    }

    /// <summary>luo_ensure_nofile_limit(min): wants a soft limit of min + 32; raises the soft limit, and the
    /// hard one when it is lower; returns 0 or −errno (EPERM when the hard limit cannot be raised).</summary>
    public static long EnsureNofileLimit(ProgramContext c, long minLimit)
    {
        ArgumentNullException.ThrowIfNull(c);
        ulong want = (ulong)(minLimit + NofileSlack);
        long rc = c.Sys.GetrlimitNofile(c.Process, out ulong cur, out ulong max);
        if (rc < 0) return rc;
        if (cur >= want) return 0;
        cur = want;
        if (cur > max) max = cur;
        return c.Sys.SetrlimitNofile(c.Process, cur, max);
    }

    /// <summary>The 72-byte create/retrieve-session struct: size = 72, name copied with a 63-byte cap
    /// (snprintf "%.*s") and always NUL-terminated.</summary>
    public static byte[] SessionStruct(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var b = new byte[LiveupdateUapi.SessionStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.SessionStructSize);
        byte[] n = Encoding.Latin1.GetBytes(name);
        int len = Array.IndexOf(n, (byte)0);
        if (len < 0) len = n.Length;
        n.AsSpan(0, Math.Min(len, LiveupdateUapi.NameLength - 1)).CopyTo(b.AsSpan(LiveupdateUapi.NameOffset));
        return b;
    }

    private static long SessionIoctl(ProgramContext c, int luoFd, uint cmd, string name)
    {
        ArgumentNullException.ThrowIfNull(c);
        var b = SessionStruct(name);
        long rc = c.Sys.Ioctl(c.Process, luoFd, cmd, b);
        return rc < 0 ? rc : BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset));
    }

    /// <summary>luo_create_session(): the new fd or −errno.</summary>
    public static long CreateSession(ProgramContext c, int luoFd, string name) => SessionIoctl(c, luoFd, LiveupdateUapi.CreateSession, name);

    /// <summary>luo_retrieve_session(): the new fd or −errno.</summary>
    public static long RetrieveSession(ProgramContext c, int luoFd, string name) => SessionIoctl(c, luoFd, LiveupdateUapi.RetrieveSession, name);

    /// <summary>luo_session_preserve_fd(): 16-byte struct {size = 16, fd, token}; 0 or −errno.</summary>
    public static long PreserveFd(ProgramContext c, int sessionFd, int fd, ulong token)
    {
        ArgumentNullException.ThrowIfNull(c);
        var b = new byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset), fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(LiveupdateUapi.TokenOffset), token);
        return c.Sys.Ioctl(c.Process, sessionFd, LiveupdateUapi.PreserveFd, b);
    }

    /// <summary>luo_session_retrieve_fd(): 16-byte struct {size = 16, token}; the new fd or −errno.</summary>
    public static long RetrieveFd(ProgramContext c, int sessionFd, ulong token)
    {
        ArgumentNullException.ThrowIfNull(c);
        var b = new byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(LiveupdateUapi.TokenOffset), token);
        long rc = c.Sys.Ioctl(c.Process, sessionFd, LiveupdateUapi.RetrieveFd, b);
        return rc < 0 ? rc : BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset));
    }

    /// <summary>luo_get_session_name(): zero-filled 72-byte GET_NAME struct (layout with <c>reserved</c>,
    /// size = 72); on success copies at most <paramref name="nameLength"/> − 1 bytes of the reply name.</summary>
    public static long GetSessionName(ProgramContext c, int sessionFd, out string name, int nameLength = LiveupdateUapi.NameLength)
    {
        ArgumentNullException.ThrowIfNull(c);
        name = "";
        var b = new byte[LiveupdateUapi.GetNameStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.GetNameStructSize);
        long rc = c.Sys.Ioctl(c.Process, sessionFd, LiveupdateUapi.GetName, b);
        if (rc < 0) return rc;
        name = CString(b.AsSpan(LiveupdateUapi.NameOffset, Math.Min(nameLength - 1, LiveupdateUapi.NameLength)));
        return 0;
    }

    /// <summary>luo_session_finish(): 8-byte struct {size = 8, reserved = 0}; 0 or −errno.</summary>
    public static long Finish(ProgramContext c, int sessionFd)
    {
        ArgumentNullException.ThrowIfNull(c);
        var b = new byte[LiveupdateUapi.FinishStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.FinishStructSize);
        return c.Sys.Ioctl(c.Process, sessionFd, LiveupdateUapi.Finish, b);
    }

    /// <summary>The bytes of <paramref name="field"/> up to its first NUL, as Latin-1 text.</summary>
    public static string CString(ReadOnlySpan<byte> field)
    {
        int n = field.IndexOf((byte)0);
        return Encoding.Latin1.GetString(n < 0 ? field : field[..n]);
    }

    /// <summary>create_and_preserve_memfd(): memfd "test_mfd" (flags 0) → ftruncate to one page → shared
    /// PROT_WRITE mapping → the text and its NUL written at offset 0 → munmap → PRESERVE_FD → the memfd is
    /// always closed. Returns 0 or the failing call's −errno.</summary>
    public static long CreateAndPreserveMemfd(ProgramContext c, int sessionFd, long token, string data)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(data);
        var p = c.Process;
        long mfd = c.Sys.MemfdCreate(p, "test_mfd", 0);
        if (mfd < 0) return mfd;
        long ret = c.Sys.Ftruncate(p, (int)mfd, PageSize);
        if (ret == 0)
        {
            long map = c.Sys.Mmap(p, PageSize, Prot.Write, MemfdConsts.MAP_SHARED, (int)mfd, 0);
            if (map < 0) ret = map;
            else
            {
                byte[] text = Encoding.Latin1.GetBytes(data);
                var buf = new byte[Math.Min(text.Length, PageSize - 1) + 1];
                text.AsSpan(0, buf.Length - 1).CopyTo(buf);
                if (!c.Sys.Store(p, (ulong)map, buf)) ret = -(long)Errno.EFAULT;
                c.Sys.Munmap(p, (ulong)map, PageSize);
                if (ret == 0) ret = PreserveFd(c, sessionFd, (int)mfd, (ulong)token);
            }
        }
        c.Sys.Close(p, (int)mfd);
        return ret;
    }

    /// <summary>restore_and_verify_memfd(): RETRIEVE_FD → one-page shared read-only mapping → when a text is
    /// given, the page must equal it as a C string (else "Data mismatch!" and −EINVAL) → munmap. Returns the
    /// still-open fd (offset untouched) or −errno (the fd is closed on failure).</summary>
    public static long RestoreAndVerifyMemfd(ProgramContext c, int sessionFd, long token, string? expected)
    {
        ArgumentNullException.ThrowIfNull(c);
        var p = c.Process;
        long mfd = RetrieveFd(c, sessionFd, (ulong)token);
        if (mfd < 0) return mfd;
        long map = c.Sys.Mmap(p, PageSize, Prot.Read, MemfdConsts.MAP_SHARED, (int)mfd, 0);
        long ret;
        if (map < 0) ret = map;
        else
        {
            ret = mfd;
            if (expected is not null)
            {
                var page = new byte[PageSize];
                if (!c.Sys.Load(p, (ulong)map, page)) ret = -(long)Errno.EFAULT; // SIGBUS in C
                else
                {
                    string got = CString(page);
                    if (got != expected)
                    {
                        c.Print($"Data mismatch! Expected '{expected}', Got '{got}'");
                        ret = -(long)Errno.EINVAL;
                    }
                }
            }
            c.Sys.Munmap(p, (ulong)map, PageSize);
        }
        if (ret < 0) c.Sys.Close(p, (int)mfd);
        return ret;
    }

    /// <summary>create_state_file(): session <paramref name="name"/> with a memfd holding the decimal
    /// <paramref name="nextStage"/>; the session fd is deliberately kept open. False when it failed (the
    /// program has exited).</summary>
    public static bool CreateStateFile(ProgramContext c, int luoFd, string name, long token, int nextStage)
    {
        ArgumentNullException.ThrowIfNull(c);
        long s = CreateSession(c, luoFd, name);
        if (!c.Check($"{c.Name}: state file: luo_create_session(\"{name}\")", Want.Fd, s)) return c.FailExit("luo_create_session for state tracking", s);
        long rc = CreateAndPreserveMemfd(c, (int)s, token, ProgramContext.F($"{nextStage}"));
        if (!c.Check(ProgramContext.F($"{c.Name}: state file: create_and_preserve_memfd(token {token})"), Want.Zero, rc))
            return c.FailExit("create_and_preserve_memfd for state tracking", rc);
        return true;
    }

    /// <summary>restore_and_read_stage(): restore the state memfd without a text check, read up to 31 bytes
    /// from its current offset, parse the number, close. False when it failed (the program has exited).</summary>
    public static bool RestoreAndReadStage(ProgramContext c, int stateFd, long token, out int stage)
    {
        ArgumentNullException.ThrowIfNull(c);
        stage = 0;
        long mfd = RestoreAndVerifyMemfd(c, stateFd, token, null);
        if (!c.Check(ProgramContext.F($"{c.Name}: state file: restore_and_verify_memfd(token {token})"), Want.Fd, mfd)) return c.FailExit("failed to restore state memfd", mfd);
        long n = c.Sys.Read(c.Process, (int)mfd, 31, out byte[] buf);
        if (!c.Check(c.Name + ": state file: read", Want.Fd, n)) return c.FailExit("failed to read state mfd", n);
        stage = Atoi(CString(buf));
        c.Sys.Close(c.Process, (int)mfd);
        return true;
    }

    /// <summary>atoi(): optional leading spaces and sign, then decimal digits; 0 when none.</summary>
    public static int Atoi(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        int i = 0, sign = 1;
        long v = 0;
        while (i < s.Length && s[i] is ' ' or '\t' or '\n') i++;
        if (i < s.Length && s[i] is '+' or '-') sign = s[i++] == '-' ? -1 : 1;
        while (i < s.Length && s[i] is >= '0' and <= '9' && v < int.MaxValue) v = (v * 10) + (s[i++] - '0');
        return (int)Math.Clamp(sign * v, int.MinValue, int.MaxValue);
    }

    /// <summary>daemonize_and_wait(): fork; the parent prints and exits 0; the child calls setsid, closes fds
    /// 0–2 and sleeps forever holding every other fd (it becomes <see cref="ProgramContext.Holder"/>; chdir
    /// is not modelled).</summary>
    public static void DaemonizeAndWait(ProgramContext c)
    {
        ArgumentNullException.ThrowIfNull(c);
        c.Print("[STAGE 1] forking a child that keeps the sessions open");
        var child = c.Sys.Fork(c.Process);
        c.Print(ProgramContext.F($"[STAGE 1] child pid {child.Pid} holds the sessions; ready for the kexec reboot"));
        c.Exit(0);
        c.Sys.Setsid(child);
        for (int fd = 0; fd < 3; fd++) c.Sys.Close(child, fd);
        c.Holder = child;
    }
}
