using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Kho;
using ModelKernel = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit;

public sealed partial class Syscalls
{
    /// <summary>A temporary read-write user buffer of at least <paramref name="length"/> bytes.</summary>
    private static ulong TempBuffer(Process p, int length) =>
        length == 0 ? LuoSyscalls.Scratch(p) : p.Memory.Map((ulong)length, Prot.Read | Prot.Write);

    private static void FreeBuffer(Process p, ulong addr, int length)
    {
        if (length != 0) p.Memory.Unmap(addr, (ulong)length);
    }

    /// <summary>write(fd, data, data.Length): one syscall.</summary>
    public long Write(Process p, int fd, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(p);
        string a = $"{FdText(p, fd)}, {Hex(data)}, {data.Length.ToString(Inv)}";
        ulong buf = TempBuffer(p, data.Length);
        if (data.Length > 0) p.Memory.Poke(buf, data);
        long rc = Kernel.Write(p, fd, buf, (ulong)data.Length);
        FreeBuffer(p, buf, data.Length);
        Rec(p, "write", a, rc);
        return rc;
    }

    /// <summary>read(fd, buf, count): one syscall; <paramref name="data"/> holds the bytes read.</summary>
    public long Read(Process p, int fd, int count, out byte[] data)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        string a = $"{FdText(p, fd)}, {count.ToString(Inv)}";
        ulong buf = TempBuffer(p, count);
        long rc = Kernel.Read(p, fd, buf, (ulong)count);
        data = rc > 0 ? p.Memory.Peek(buf, (int)rc) : [];
        FreeBuffer(p, buf, count);
        Rec(p, "read", a, rc, rc > 0 ? Hex(data) : null);
        return rc;
    }

    /// <summary>fork(): returns the child (the model has no "return twice"); recorded in the parent with the
    /// child's pid as result.</summary>
    public Process Fork(Process parent)
    {
        var child = Kernel.Fork(parent);
        Rec(parent, "fork", "", child.Pid);
        return child;
    }

    /// <summary>exit(status) / _exit(status): closes every fd and drops the address space.</summary>
    public void Exit(Process p, int status)
    {
        ArgumentNullException.ThrowIfNull(p);
        Rec(p, "exit_group", status.ToString(Inv), 0, null, "?");
        Kernel.Exit(p);
    }

    /// <summary>setsid().</summary>
    public long Setsid(Process p)
    {
        long rc = Kernel.Setsid(p);
        Rec(p, "setsid", "", rc);
        return rc;
    }

    /// <summary>getrlimit(RLIMIT_NOFILE).</summary>
    public long GetrlimitNofile(Process p, out ulong soft, out ulong hard)
    {
        long rc = Kernel.GetrlimitNofile(p, out soft, out hard);
        Rec(p, "getrlimit", "RLIMIT_NOFILE", rc, $"{{cur={soft.ToString(Inv)}, max={hard.ToString(Inv)}}}");
        return rc;
    }

    /// <summary>setrlimit(RLIMIT_NOFILE, {soft, hard}).</summary>
    public long SetrlimitNofile(Process p, ulong soft, ulong hard)
    {
        long rc = Kernel.SetrlimitNofile(p, soft, hard);
        Rec(p, "setrlimit", $"RLIMIT_NOFILE, {{cur={soft.ToString(Inv)}, max={hard.ToString(Inv)}}}", rc);
        return rc;
    }

    /// <summary>reboot(cmd).</summary>
    public long Reboot(Process p, uint cmd)
    {
        long rc = Kernel.Reboot(p, cmd);
        string name = cmd == ModelKernel.LINUX_REBOOT_CMD_KEXEC ? "LINUX_REBOOT_CMD_KEXEC" : "0x" + cmd.ToString("x", Inv);
        Rec(p, "reboot", name, rc);
        return rc;
    }

    /// <summary>Model-only syscall: a file accepted by the test handler (<see cref="ModelKernel.CreateTestFile"/>).</summary>
    public long CreateTestFile(Process p, ulong payload, string tag)
    {
        long rc = Kernel.CreateTestFile(p, payload, tag);
        Rec(p, "test_file_create", $"0x{payload.ToString("x", Inv)}, \"{tag}\"", rc);
        return rc;
    }

    /// <summary>The jump into the next kernel after a successful reboot(KEXEC) (model step, pid 0): boots
    /// <paramref name="next"/> (or the same config) over the same arena and follows it. The record's result
    /// is the new boot number; a boot that panicked shows its reason.</summary>
    public ModelKernel Kexec(KernelConfig? next = null, Action<PhysicalArena>? atHandover = null)
    {
        var k = Kernel.Kexec(next, atHandover);
        Kernel = k;
        string text = k.Panicked ? $"{k.BootNumber.ToString(Inv)} (panic: {k.Outcome.PanicReason})" : k.BootNumber.ToString(Inv);
        Rec(null, "kexec", "", k.BootNumber, null, text);
        return k;
    }
}
