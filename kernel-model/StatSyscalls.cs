using System.Globalization;
using System.Text;

namespace LuoModel.Kernel;

/// <summary>
/// Typed wrappers over <see cref="Kernel.Fstat"/>, <see cref="Kernel.Fstatfs"/> and <see cref="Kernel.Readlink"/>
/// (like <see cref="LuoSyscalls"/>: the struct goes through the process's scratch buffer). Results are the raw
/// syscall results.
/// </summary>
public static class StatSyscalls
{
    /// <summary>fstat(fd) parsed; <paramref name="st"/> is default on failure.</summary>
    public static long Fstat(Kernel k, Process p, int fd, out KernelStat st)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(p);
        ulong a = LuoSyscalls.Scratch(p);
        long rc = k.Fstat(p, fd, a);
        st = rc == 0 ? KernelStat.ReadFrom(p.Memory.Peek(a, KernelStat.Size64)) : default;
        return rc;
    }

    /// <summary>fstatfs(fd) parsed; <paramref name="st"/> is default on failure.</summary>
    public static long Fstatfs(Kernel k, Process p, int fd, out KernelStatfs st)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(p);
        ulong a = LuoSyscalls.Scratch(p);
        long rc = k.Fstatfs(p, fd, a);
        st = rc == 0 ? KernelStatfs.ReadFrom(p.Memory.Peek(a, KernelStatfs.Size64)) : default;
        return rc;
    }

    /// <summary>readlink("/proc/self/fd/FD") with a PATH_MAX buffer; <paramref name="text"/> is the link
    /// (Latin-1) or null on failure.</summary>
    public static long ReadFdLink(Kernel k, Process p, int fd, out string? text)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(p);
        const int PathMax = 4096;
        ulong a = LuoSyscalls.Scratch(p);
        long rc = k.Readlink(p, "/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture), a, PathMax);
        text = rc >= 0 ? Encoding.Latin1.GetString(p.Memory.Peek(a, (int)rc)) : null;
        return rc;
    }
}
