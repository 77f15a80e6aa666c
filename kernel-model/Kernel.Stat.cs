using System.Globalization;
using System.Text;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>
/// Device numbers and inode numbers of the objects the model has no source for (docs/variants.md "Decisions":
/// every value here is a guess, chosen once and used consistently). Anonymous block devices are 0:N.
/// </summary>
public static class ModelInodes
{
    /// <summary>Minor of the shm_mnt (memfd) anonymous device, 0:1 (guess).</summary>
    public const uint ShmMinor = 1;
    /// <summary>Minor of the internal hugetlbfs mount (hugetlb memfds), 0:2 (guess).</summary>
    public const uint HugetlbMinor = 2;
    /// <summary>Minor of devtmpfs (/dev), 0:5 (guess).</summary>
    public const uint DevtmpfsMinor = 5;
    /// <summary>Minor of anon_inodefs, 0:15 (guess).</summary>
    public const uint AnonInodeFsMinor = 15;
    /// <summary>Minor of the LUOS pseudo-fs mounted at late init, 0:60 (guess).</summary>
    public const uint LuosMinor = 60;
    /// <summary>st_ino of the shared anon_inodefs inode (guess: get_next_ino() at fs_initcall).</summary>
    public const ulong AnonInodeIno = 1057;
    /// <summary>st_ino of the LUOS v8 singleton inode (guess: get_next_ino() at late init).</summary>
    public const ulong LuosSingletonIno = 4097;
    /// <summary>st_ino of /dev/null in devtmpfs (guess).</summary>
    public const ulong DevNullIno = 4;
    /// <summary>st_ino of /dev/liveupdate in devtmpfs (guess).</summary>
    public const ulong LiveupdateIno = 200;
    /// <summary>/dev/null: char 1:3.</summary>
    public const uint MemMajor = 1;
    /// <summary>/dev/null minor.</summary>
    public const uint NullMinor = 3;
    /// <summary>MISC_MAJOR.</summary>
    public const uint MiscMajor = 10;
    /// <summary>Dynamic misc minor of /dev/liveupdate (guess).</summary>
    public const uint LiveupdateMinor = 124;
    /// <summary>Hugetlb memfd page size (x86-64 default huge page).</summary>
    public const long HugePageSize = 2L << 20;
    /// <summary>PAGE_SIZE.</summary>
    public const long PageSize = UserMemory.PageSize;
}

public sealed partial class Kernel
{
    private ulong _luosCookie;
    private Dictionary<string, uint>? _devPerms;

    /// <summary>luo_alloc_ino() (seed 002 review, session_inode=magic_per_session): the next number of the
    /// boot-wide cookie, starting at 1 and never reused in this boot; 0 for the other variants (no number is
    /// consumed).</summary>
    internal ulong AllocSessionInode() =>
        Config.Luo.SessionInode == SessionInodeKind.MagicPerSession ? ++_luosCookie : 0;

    private uint DevPerms(string path) =>
        _devPerms is not null && _devPerms.TryGetValue(path, out uint m) ? m : path == "/dev/null" ? 0x1B6u : 0x180u;

    /// <summary>fstat(fd, statbuf): writes the 144-byte x86-64 struct stat (<see cref="KernelStat"/>) at
    /// <paramref name="userAddr"/>. EBADF for a closed fd (O_PATH fds are accepted, as vfs_fstat does), EFAULT
    /// when the buffer is not writable (bytes before the faulting page are written), EOPNOTSUPP for a host
    /// file the model does not own (decision).</summary>
    public long Fstat(Process p, int fd, ulong userAddr)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        var f = p.FileOf(fd);
        if (f is null) return Fail(Errno.EBADF);
        if (StatOf(f) is not { } st) return Fail(Errno.EOPNOTSUPP);
        Span<byte> b = stackalloc byte[KernelStat.Size64];
        st.WriteTo(b);
        return p.Memory.TryWrite(userAddr, b) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>fstatfs(fd, buf): writes the 120-byte x86-64 struct statfs (<see cref="KernelStatfs"/>).
    /// Same errors as <see cref="Fstat"/>.</summary>
    public long Fstatfs(Process p, int fd, ulong userAddr)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        var f = p.FileOf(fd);
        if (f is null) return Fail(Errno.EBADF);
        if (StatfsOf(f) is not { } st) return Fail(Errno.EOPNOTSUPP);
        Span<byte> b = stackalloc byte[KernelStatfs.Size64];
        st.WriteTo(b);
        return p.Memory.TryWrite(userAddr, b) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>fchmod(fd, mode): EBADF for a closed or O_PATH fd (fdget); session and other anon-inode files:
    /// EOPNOTSUPP (anon_inode_setattr, seed 002's luo_session_setattr) except per-session LUOS inodes, which
    /// are S_IMMUTABLE so may_setattr() answers EPERM first; a memfd with F_SEAL_EXEC refuses a change of the
    /// exec bits (EPERM); memfds and device nodes otherwise take the new permission bits.</summary>
    public long Fchmod(Process p, int fd, uint mode)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckUsable();
        var f = p.FileOf(fd);
        if (f is null || f.IsPath) return Fail(Errno.EBADF);
        uint perms = mode & VfsConsts.S_IALLUGO;
        switch (f)
        {
            case MemfdFile m:
                if ((m.Inode.Seals & Seals.F_SEAL_EXEC) != 0 && ((m.Inode.Permissions ^ perms) & VfsConsts.S_IXUGO) != 0) return Fail(Errno.EPERM);
                m.Inode.Permissions = perms;
                return 0;
            case DevNullFile or DeviceFile:
                (_devPerms ??= [])[f.PathName] = perms;
                return 0;
            case SessionFile when Config.Luo.SessionInode == SessionInodeKind.MagicPerSession:
                return Fail(Errno.EPERM);
            default:
                return Fail(Errno.EOPNOTSUPP);
        }
    }

    /// <summary>readlink(path, buf, bufsiz) for <c>/proc/self/fd/N</c> and <c>/proc/PID/fd/N</c> (PID of a live
    /// process of this boot): bufsiz ≤ 0 → EINVAL (checked first); no such process or fd, or a malformed N →
    /// ENOENT; an existing non-link path of the model (/dev/null, /dev/liveupdate) → EINVAL; anything else →
    /// ENOENT. A d_dname link text (anon inodes, LUOS) of 64 bytes or more → ENAMETOOLONG (dynamic_dname).
    /// Copies min(length, bufsiz) bytes without a NUL and returns that count; EFAULT on an unwritable buffer.</summary>
    public long Readlink(Process p, string path, ulong userAddr, int size)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(path);
        CheckUsable();
        if (size <= 0) return Fail(Errno.EINVAL);
        if (!TryProcFd(p, path, out var target))
        {
            bool exists = path == "/dev/null" || (path == LiveupdatePath && Luo.Enabled);
            return Fail(exists ? Errno.EINVAL : Errno.ENOENT);
        }
        if (target is null) return Fail(Errno.ENOENT);
        if (LinkText(target) is not { } text) return Fail(Errno.ENAMETOOLONG);
        int n = Math.Min(text.Length, size);
        return p.Memory.TryWrite(userAddr, text.AsSpan(0, n)) ? n : Fail(Errno.EFAULT);
    }

    /// <summary>Parses /proc/{self|PID}/fd/N: false when the path is not of that shape; true with the file
    /// (null when the process or fd does not exist, or N is not a canonical decimal).</summary>
    private bool TryProcFd(Process p, string path, out OpenFile? file)
    {
        file = null;
        if (!path.StartsWith("/proc/", StringComparison.Ordinal)) return false;
        string[] parts = path[6..].Split('/');
        if (parts.Length != 3 || parts[1] != "fd") return false;
        Process? owner = parts[0] == "self" ? p
            : ProcNameToInt(parts[0]) is int pid ? _processes.FirstOrDefault(q => q.Pid == pid && !q.Exited) : null;
        if (owner is not null && ProcNameToInt(parts[2]) is int fd) file = owner.FileOf(fd);
        return true;
    }

    /// <summary>name_to_int() of fs/proc: decimal digits, no leading zero (except "0"), at most INT_MAX.</summary>
    private static int? ProcNameToInt(string s)
    {
        if (s.Length == 0 || (s.Length > 1 && s[0] == '0') || s.Any(c => c is < '0' or > '9')) return null;
        return int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : null;
    }

    /// <summary>The bytes readlink of /proc/PID/fd/N gives for <paramref name="f"/> (d_path or the
    /// filesystem's d_dname); null when d_dname fails with ENAMETOOLONG.</summary>
    public static byte[]? LinkText(OpenFile f)
    {
        ArgumentNullException.ThrowIfNull(f);
        byte[] text = f switch
        {
            SessionFile s => SessionLinkBytes(s.Session, f.Kernel.Config.Luo.SessionInode),
            _ => Encoding.UTF8.GetBytes(f.PathName),
        };
        bool dname = f is SessionFile or TestFile;
        return dname && text.Length + 1 > VfsConsts.DynamicDnameMax ? null : text;
    }

    /// <summary>The d_dname text of a session file: <c>anon_inode:[luo_session] NAME</c> (N),
    /// <c>luo_session:NAME</c> (seed 002, v8) or <c>luo_session:[NAME]</c> (per-session, the reviewer's format;
    /// guess for v9).</summary>
    internal static byte[] SessionLinkBytes(LuoSession s, SessionInodeKind kind)
    {
        int len = Array.IndexOf(s.NameBytes, (byte)0);
        var name = s.NameBytes.AsSpan(0, len < 0 ? s.NameBytes.Length : len);
        return [.. Encoding.ASCII.GetBytes(SessionLinkPrefix(kind)), .. name, .. Encoding.ASCII.GetBytes(kind == SessionInodeKind.MagicPerSession ? "]" : "")];
    }

    /// <summary>The start of every session fd's /proc/PID/fd text under <paramref name="kind"/>.</summary>
    public static string SessionLinkPrefix(SessionInodeKind kind) => kind switch
    {
        SessionInodeKind.MagicSingleton => "luo_session:",
        SessionInodeKind.MagicPerSession => "luo_session:[",
        _ => "anon_inode:[luo_session] ",
    };

    /// <summary>The /proc/PID/fd text of the session <paramref name="name"/> under <paramref name="kind"/> (no
    /// length limit applied; see <see cref="LinkText"/>).</summary>
    public static string SessionLinkText(string name, SessionInodeKind kind) =>
        SessionLinkPrefix(kind) + name + (kind == SessionInodeKind.MagicPerSession ? "]" : "");

    /// <summary>What fstat reports for <paramref name="f"/>; null for a host file the model does not own.</summary>
    public static KernelStat? StatOf(OpenFile f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var k = f.Kernel;
        var anon = new KernelStat(VfsConsts.EncodeDev(0, ModelInodes.AnonInodeFsMinor), ModelInodes.AnonInodeIno, 1, 0x180, 0, 0, ModelInodes.PageSize, 0);
        switch (f)
        {
            case SessionFile s:
                return k.Config.Luo.SessionInode switch
                {
                    SessionInodeKind.MagicSingleton => anon with { Dev = VfsConsts.EncodeDev(0, ModelInodes.LuosMinor), Ino = ModelInodes.LuosSingletonIno },
                    SessionInodeKind.MagicPerSession => anon with { Dev = VfsConsts.EncodeDev(0, ModelInodes.LuosMinor), Ino = s.LuosIno, Mode = 0x1C0 },
                    _ => anon,
                };
            case TestFile:
                return anon;
            case MemfdFile m:
                var inode = m.Inode;
                return new KernelStat(VfsConsts.EncodeDev(0, inode.IsHugetlb ? ModelInodes.HugetlbMinor : ModelInodes.ShmMinor), inode.Ino, 0,
                    VfsConsts.S_IFREG | inode.Permissions, 0, inode.Size, inode.IsHugetlb ? ModelInodes.HugePageSize : ModelInodes.PageSize, (long)inode.PageCount * (ModelInodes.PageSize / 512));
            case DevNullFile or DeviceFile or PathFile:
                string path = f.PathName;
                if (path != "/dev/null" && path != LiveupdatePath) return null;
                bool isNull = path == "/dev/null";
                ulong rdev = isNull ? VfsConsts.EncodeDev(ModelInodes.MemMajor, ModelInodes.NullMinor) : VfsConsts.EncodeDev(ModelInodes.MiscMajor, ModelInodes.LiveupdateMinor);
                return new KernelStat(VfsConsts.EncodeDev(0, ModelInodes.DevtmpfsMinor), isNull ? ModelInodes.DevNullIno : ModelInodes.LiveupdateIno, 1,
                    VfsConsts.S_IFCHR | k.DevPerms(path), rdev, 0, ModelInodes.PageSize, 0);
            default:
                return null;
        }
    }

    /// <summary>What fstatfs reports for <paramref name="f"/>; null for a host file the model does not own.</summary>
    public static KernelStatfs? StatfsOf(OpenFile f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var pseudo = new KernelStatfs(VfsConsts.AnonInodeFsMagic, ModelInodes.PageSize, 0, 0, 0, 0, 0, 0, VfsConsts.NameMax, ModelInodes.PageSize, VfsConsts.ST_VALID);
        switch (f)
        {
            case SessionFile when f.Kernel.Config.Luo.SessionInode != SessionInodeKind.Anon:
                return pseudo with { Type = VfsConsts.LuoSessionMagic };
            case SessionFile or TestFile:
                return pseudo;
            case MemfdFile m when m.Inode.IsHugetlb:
                return pseudo with { Type = VfsConsts.HugetlbfsMagic, Bsize = ModelInodes.HugePageSize, Frsize = ModelInodes.HugePageSize, Fsid = VfsConsts.EncodeDev(0, ModelInodes.HugetlbMinor) };
            case MemfdFile:
                return pseudo with { Type = VfsConsts.TmpfsMagic };
            case DevNullFile or DeviceFile or PathFile when f.PathName is "/dev/null" or LiveupdatePath:
                ulong pages = f.Kernel.Config.DramBytes / (ulong)ModelInodes.PageSize / 2;
                return pseudo with { Type = VfsConsts.TmpfsMagic, Blocks = pages, Bfree = pages, Bavail = pages, Files = pages, Ffree = pages - 2, Flags = VfsConsts.ST_VALID | VfsConsts.ST_RELATIME };
            default:
                return null;
        }
    }
}
