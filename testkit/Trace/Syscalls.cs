using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Kho;
using ModelKernel = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit;

/// <summary>
/// The syscall surface of one simulated machine as a user program sees it, with every call recorded in a
/// <see cref="SyscallLog"/>. It wraps the current <see cref="ModelKernel"/> and follows it across
/// <see cref="Kexec"/>. Results are the raw model results (≥ 0 success, &lt; 0 = −errno). Buffers are
/// passed as spans: each call copies them through the calling process's user memory, so the kernel sees a
/// user address exactly as with the raw surface, and one model call is one recorded syscall.
/// </summary>
public sealed partial class Syscalls
{
    /// <summary>Creates the surface over <paramref name="kernel"/>.</summary>
    /// <param name="kernel">The current boot.</param>
    /// <param name="log">Where calls are recorded (a disabled log records nothing).</param>
    /// <param name="machine">Machine number shown in the trace (several machines can share one log).</param>
    public Syscalls(ModelKernel kernel, SyscallLog log, int machine = 1)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(log);
        Kernel = kernel;
        Log = log;
        MachineId = machine;
    }

    /// <summary>The current boot.</summary>
    public ModelKernel Kernel { get; private set; }
    /// <summary>The trace.</summary>
    public SyscallLog Log { get; }
    /// <summary>Machine number in the trace.</summary>
    public int MachineId { get; }

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>"0" / "17" for success, "-EEXIST" for an error (errno spelled as the kernel does).</summary>
    public static string ResultText(long rc)
    {
        if (rc >= 0) return rc.ToString(Inv);
        var e = (Errno)(int)Math.Min(-rc, int.MaxValue);
        if (e == Errno.Frozen) return "-FROZEN(blocks forever)";
        return Enum.IsDefined(e) ? "-" + e : "-E" + (-rc).ToString(Inv);
    }

    /// <summary>Lowercase hex of <paramref name="bytes"/>.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>Symbolic name of an ioctl command (LUO uAPI and the generic VFS ones), else hex.</summary>
    public static string IoctlName(uint cmd) => cmd switch
    {
        LiveupdateUapi.CreateSession => "LIVEUPDATE_IOCTL_CREATE_SESSION",
        LiveupdateUapi.RetrieveSession => "LIVEUPDATE_IOCTL_RETRIEVE_SESSION",
        LiveupdateUapi.PreserveFd => "LIVEUPDATE_SESSION_PRESERVE_FD",
        LiveupdateUapi.RetrieveFd => "LIVEUPDATE_SESSION_RETRIEVE_FD",
        LiveupdateUapi.Finish => "LIVEUPDATE_SESSION_FINISH",
        LiveupdateUapi.GetName => "LIVEUPDATE_SESSION_GET_NAME",
        FcntlCmd.FIOCLEX => "FIOCLEX",
        FcntlCmd.FIONCLEX => "FIONCLEX",
        _ => "0x" + cmd.ToString("x", Inv),
    };

    /// <summary>strace -y style fd text: <c>3&lt;/dev/liveupdate&gt;</c>, or the bare number when not open.</summary>
    public static string FdText(Process p, int fd)
    {
        ArgumentNullException.ThrowIfNull(p);
        string? path = p.FdPath(fd);
        return path is null ? fd.ToString(Inv) : fd.ToString(Inv) + "<" + path + ">";
    }

    private void Rec(Process? p, string call, string args, long rc, string? data = null, string? resultText = null) =>
        Log.Add(MachineId, Kernel.BootNumber, p?.Pid ?? 0, call, args, rc, resultText ?? ResultText(rc), data);

    /// <summary>Records a call made by kernel code (pid 0), e.g. the KHO test module's API calls;
    /// <paramref name="resultText"/> overrides the default text (use it for returned addresses).</summary>
    public void KernelCall(string call, string args, long result, string? data = null, string? resultText = null) =>
        Rec(null, call, args, result, data, resultText);

    /// <summary>A process started by the kernel itself (init): no fds, fresh memory. Not a syscall; recorded
    /// as <c>spawn</c>.</summary>
    public Process CreateProcess(string comm)
    {
        var p = Kernel.CreateProcess();
        Rec(p, "spawn", "\"" + comm + "\"", p.Pid);
        return p;
    }

    /// <summary>open(path, flags).</summary>
    public long Open(Process p, string path, int flags)
    {
        long rc = Kernel.Open(p, path, flags);
        Rec(p, "open", $"\"{path}\", 0x{flags.ToString("x", Inv)}", rc);
        return rc;
    }

    /// <summary>pidfd_open(pid, 0): the model has no pidfs; the fd is an O_CLOEXEC descriptor of /dev/null,
    /// which holds a slot in the fd table exactly like the real pidfd.</summary>
    public long PidfdOpen(Process p, int pid)
    {
        long rc = Kernel.Open(p, "/dev/null", OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC);
        Rec(p, "pidfd_open", pid.ToString(Inv) + ", 0", rc);
        return rc;
    }

    /// <summary>close(fd).</summary>
    public long Close(Process p, int fd)
    {
        string a = FdText(p, fd);
        long rc = Kernel.Close(p, fd);
        Rec(p, "close", a, rc);
        return rc;
    }

    /// <summary>dup(fd).</summary>
    public long Dup(Process p, int fd)
    {
        string a = FdText(p, fd);
        long rc = Kernel.Dup(p, fd);
        Rec(p, "dup", a, rc);
        return rc;
    }

    /// <summary>fcntl(fd, cmd, arg).</summary>
    public long Fcntl(Process p, int fd, int cmd, long arg = 0)
    {
        string a = FdText(p, fd);
        long rc = Kernel.Fcntl(p, fd, cmd, arg);
        Rec(p, "fcntl", $"{a}, {cmd.ToString(Inv)}, {arg.ToString(Inv)}", rc);
        return rc;
    }

    /// <summary>ioctl(fd, cmd, &amp;arg) with <paramref name="arg"/> the raw struct: it is copied into user
    /// memory, the call runs, and whatever the kernel wrote back is copied into <paramref name="arg"/>.</summary>
    public long Ioctl(Process p, int fd, uint cmd, Span<byte> arg)
    {
        string a = $"{FdText(p, fd)}, {IoctlName(cmd)}, {Hex(arg)}";
        long rc = LuoSyscalls.RawIoctl(Kernel, p, fd, cmd, arg);
        Rec(p, "ioctl", a, rc, Hex(arg));
        return rc;
    }

    /// <summary>memfd_create(name, flags).</summary>
    public long MemfdCreate(Process p, string name, uint flags)
    {
        long rc = Kernel.MemfdCreate(p, name, flags);
        Rec(p, "memfd_create", $"\"{name}\", 0x{flags.ToString("x", Inv)}", rc);
        return rc;
    }

    /// <summary>ftruncate(fd, length).</summary>
    public long Ftruncate(Process p, int fd, long length)
    {
        string a = FdText(p, fd);
        long rc = Kernel.Ftruncate(p, fd, length);
        Rec(p, "ftruncate", $"{a}, {length.ToString(Inv)}", rc);
        return rc;
    }

    /// <summary>lseek(fd, offset, whence).</summary>
    public long Lseek(Process p, int fd, long offset, int whence)
    {
        string a = FdText(p, fd);
        long rc = Kernel.Lseek(p, fd, offset, whence);
        Rec(p, "lseek", $"{a}, {offset.ToString(Inv)}, {whence.ToString(Inv)}", rc);
        return rc;
    }

    /// <summary>mmap(NULL, length, prot, flags, fd, offset); the result (an address) prints in hex.</summary>
    public long Mmap(Process p, ulong length, Prot prot, int flags, int fd, long offset)
    {
        string a = $"NULL, {length.ToString(Inv)}, {(int)prot}, {flags.ToString(Inv)}, {FdText(p, fd)}, {offset.ToString(Inv)}";
        long rc = Kernel.Mmap(p, length, prot, flags, fd, offset);
        Rec(p, "mmap", a, rc, null, rc >= 0 ? "0x" + rc.ToString("x", Inv) : null);
        return rc;
    }

    /// <summary>munmap(addr, length).</summary>
    public long Munmap(Process p, ulong addr, ulong length)
    {
        long rc = Kernel.Munmap(p, addr, length);
        Rec(p, "munmap", $"0x{addr.ToString("x", Inv)}, {length.ToString(Inv)}", rc);
        return rc;
    }

    /// <summary>A user-space store through a mapping (memcpy/snprintf into mapped memory): false when a page
    /// faults. Recorded as <c>store</c> with result 0 or -EFAULT.</summary>
    public bool Store(Process p, ulong addr, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(p);
        bool ok = p.Memory.TryWrite(addr, bytes);
        Rec(p, "store", $"0x{addr.ToString("x", Inv)}, {Hex(bytes)}", ok ? 0 : -(long)Errno.EFAULT);
        return ok;
    }

    /// <summary>A user-space load through a mapping: false when a page faults. Recorded as <c>load</c> with
    /// the bytes read.</summary>
    public bool Load(Process p, ulong addr, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(p);
        bool ok = p.Memory.TryRead(addr, destination);
        Rec(p, "load", $"0x{addr.ToString("x", Inv)}, {destination.Length.ToString(Inv)}", ok ? 0 : -(long)Errno.EFAULT, ok ? Hex(destination) : null);
        return ok;
    }
}
