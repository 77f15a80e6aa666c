using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>fstat / fstatfs / fchmod / readlink of session fds under the three session_inode variants
/// (luo.md §7.7, seed 002), byte-exact x86-64 struct stat and struct statfs.</summary>
public class SessionInodeTests : LuoTestBase
{
    private static KernelConfig Cfg(SessionInodeKind kind) => new() { DramBytes = 1UL << 30, Luo = new LuoOptions { SessionInode = kind } };

    private void Boot(SessionInodeKind kind)
    {
        K = Kernel.Kernel.ColdBoot(Cfg(kind));
        P = K.CreateProcess();
    }

    private KernelStat Stat(int fd)
    {
        Assert.Equal(0, StatSyscalls.Fstat(K, P, fd, out var st));
        return st;
    }

    private string Link(int fd)
    {
        Assert.True(StatSyscalls.ReadFdLink(K, P, fd, out string? text) >= 0);
        return text!;
    }

    private static string Z(int bytes) => new('0', bytes * 2);

    /// <summary>N: every session shares the anon_inodefs inode: st_dev 0:15, st_ino 1057, mode 0600 without a
    /// type, nlink 1, blksize 4096, everything else zero.</summary>
    [Fact]
    public void Anon_session_fstat_is_byte_exact()
    {
        int dev = OpenDev();
        int s = Create(dev, "a");
        ulong buf = UserBuf(Enumerable.Repeat((byte)0xEE, 160).ToArray());
        Assert.Equal(0, K.Fstat(P, s, buf));
        string want = "0f00000000000000" + "2104000000000000" + "0100000000000000" + "80010000" + "00000000" + "00000000" + "00000000"
            + Z(8) + Z(8) + "0010000000000000" + Z(8) + Z(72);
        Assert.Equal(want, Convert.ToHexStringLower(P.Memory.Peek(buf, 144)));
        Assert.Equal("eeeeeeeeeeeeeeee", Convert.ToHexStringLower(P.Memory.Peek(buf + 144, 8))); // nothing past the struct
        int other = Create(dev, "b");
        int test = (int)K.CreateTestFile(P, 7);
        Assert.Equal(Stat(s), Stat(other));
        Assert.Equal(Stat(s), Stat(test)); // one anon inode for every anon_inode_getfile() file
    }

    [Fact]
    public void Anon_session_statfs_link_and_fchmod()
    {
        int s = Create(OpenDev(), "sess");
        ulong buf = UserBuf(new byte[120]);
        Assert.Equal(0, K.Fstatfs(P, s, buf));
        string want = "3419040900000000" + "0010000000000000" + Z(40) + Z(8) + "ff00000000000000" + "0010000000000000" + "2000000000000000" + Z(32);
        Assert.Equal(want, Convert.ToHexStringLower(P.Memory.Peek(buf, 120)));
        Assert.Equal("anon_inode:[luo_session] sess", Link(s));
        Assert.Equal(E(Errno.EOPNOTSUPP), K.Fchmod(P, s, 0x1FF));
        Assert.Equal(0x180u, Stat(s).Mode);
    }

    /// <summary>dynamic_dname() refuses link texts of 64 bytes or more: "anon_inode:[luo_session] " is 25
    /// bytes, so names over 38 bytes cannot be read back through /proc (seed 000's "lossy" procfs).</summary>
    [Fact]
    public void Anon_link_text_longer_than_63_bytes_is_ENAMETOOLONG()
    {
        int dev = OpenDev();
        int ok = Create(dev, new string('n', 38));
        int tooLong = Create(dev, new string('n', 39));
        Assert.Equal("anon_inode:[luo_session] " + new string('n', 38), Link(ok));
        Assert.Equal(E(Errno.ENAMETOOLONG), StatSyscalls.ReadFdLink(K, P, tooLong, out string? t));
        Assert.Null(t);
    }

    [Fact]
    public void Singleton_shares_one_LUOS_inode_and_refuses_fchmod()
    {
        Boot(SessionInodeKind.MagicSingleton);
        int dev = OpenDev();
        int a = Create(dev, "a");
        int b = Create(dev, "b");
        var st = Stat(a);
        Assert.Equal(new KernelStat(60, 4097, 1, 0x180, 0, 0, 4096, 0), st);
        Assert.Equal(st, Stat(b));
        ulong buf = UserBuf(new byte[120]);
        Assert.Equal(0, K.Fstatfs(P, a, buf));
        string want = "534f554c00000000" + "0010000000000000" + Z(40) + Z(8) + "ff00000000000000" + "0010000000000000" + "2000000000000000" + Z(32);
        Assert.Equal(want, Convert.ToHexStringLower(P.Memory.Peek(buf, 120)));
        Assert.Equal(E(Errno.EOPNOTSUPP), K.Fchmod(P, a, 0));
        Assert.Equal("luo_session:a", Link(a));
        Assert.Equal("luo_session:" + new string('x', 51), Link(Create(dev, new string('x', 51))));
        Assert.Equal(E(Errno.ENAMETOOLONG), StatSyscalls.ReadFdLink(K, P, Create(dev, new string('x', 52)), out _));
        // other anon-inode files keep anon_inodefs
        Assert.Equal(0, StatSyscalls.Fstatfs(K, P, (int)K.CreateTestFile(P, 1), out var tfs));
        Assert.Equal(VfsConsts.AnonInodeFsMagic, tfs.Type);
    }

    [Fact]
    public void Per_session_inodes_are_monotonic_shared_by_dup_and_fork_and_never_reused()
    {
        Boot(SessionInodeKind.MagicPerSession);
        int dev = OpenDev();
        int a = Create(dev, "a");
        int b = Create(dev, "b");
        Assert.Equal(new KernelStat(60, 1, 1, 0x1C0, 0, 0, 4096, 0), Stat(a));
        Assert.Equal(2UL, Stat(b).Ino);
        int dupA = (int)K.Dup(P, a);
        Assert.Equal(Stat(a), Stat(dupA));
        var child = K.Fork(P);
        Assert.Equal(0, StatSyscalls.Fstat(K, child, b, out var cb));
        Assert.Equal(Stat(b), cb);
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.CreateSession(K, P, dev, "a", out _)); // no inode for a failed create
        Assert.Equal(0, K.Close(P, b));
        K.Exit(child);
        int c = Create(dev, "b"); // same name again: a new inode, numbers are not reused
        Assert.Equal(3UL, Stat(c).Ino);
        Assert.Equal(E(Errno.EPERM), K.Fchmod(P, a, 0x1C0)); // S_IMMUTABLE: may_setattr() before ->setattr
        Assert.Equal("luo_session:[a]", Link(a));
        Assert.Equal(0, StatSyscalls.Fstatfs(K, P, a, out var fs));
        Assert.Equal(VfsConsts.LuoSessionMagic, fs.Type);
    }

    [Fact]
    public void Per_session_counter_restarts_in_the_next_kernel()
    {
        Boot(SessionInodeKind.MagicPerSession);
        int dev = OpenDev();
        Create(dev, "x");
        Create(dev, "y");
        Assert.Equal(0, K.Close(P, dev));
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "y", out int y));
        Assert.Equal(1UL, Stat(y).Ino);
        Assert.Equal(2UL, Stat(Create(dev, "x")).Ino); // outgoing "x" of this boot
    }

    [Fact]
    public void Readlink_semantics_size_truncation_no_nul_and_errors()
    {
        int s = Create(OpenDev(), "abcdef");
        ulong buf = UserBuf(Enumerable.Repeat((byte)0xEE, 64).ToArray());
        string path = $"/proc/self/fd/{s}";
        Assert.Equal(5, K.Readlink(P, path, buf, 5));
        Assert.Equal("616e6f6e5fee", Convert.ToHexStringLower(P.Memory.Peek(buf, 6))); // "anon_", no NUL, rest untouched
        Assert.Equal(31, K.Readlink(P, path, buf, 64));
        Assert.Equal(0xEE, P.Memory.Peek(buf + 31, 1)[0]);
        Assert.Equal(31, K.Readlink(P, $"/proc/{P.Pid}/fd/{s}", buf, 64));
        Assert.Equal(E(Errno.EINVAL), K.Readlink(P, path, buf, 0));
        Assert.Equal(E(Errno.EINVAL), K.Readlink(P, "/proc/self/fd/99", buf, -1)); // size checked before the lookup
        Assert.Equal(E(Errno.ENOENT), K.Readlink(P, "/proc/self/fd/99", buf, 64));
        Assert.Equal(E(Errno.ENOENT), K.Readlink(P, $"/proc/self/fd/0{s}", buf, 64)); // not canonical decimal
        Assert.Equal(E(Errno.ENOENT), K.Readlink(P, $"/proc/9999/fd/{s}", buf, 64));
        Assert.Equal(E(Errno.EINVAL), K.Readlink(P, "/dev/null", buf, 64)); // exists, not a link
        Assert.Equal(E(Errno.EINVAL), K.Readlink(P, "/dev/liveupdate", buf, 64));
        Assert.Equal(E(Errno.ENOENT), K.Readlink(P, "/etc/passwd", buf, 64));
        Assert.Equal(E(Errno.EFAULT), K.Readlink(P, path, 0x1000, 64));
        ulong ro = UserBuf(new byte[64], Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Readlink(P, path, ro, 64));
        Assert.Equal(new byte[64], P.Memory.Peek(ro, 64));
    }

    [Fact]
    public void Readlink_faulting_in_the_second_page_writes_the_first()
    {
        int s = Create(OpenDev(), "abcdef");
        ulong two = P.Memory.Map(8192, Prot.Read | Prot.Write);
        P.Memory.Protect(two + 4096, 4096, Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Readlink(P, $"/proc/self/fd/{s}", two + 4090, 64));
        Assert.Equal("anon_i", System.Text.Encoding.ASCII.GetString(P.Memory.Peek(two + 4090, 6)));
        Assert.Equal(E(Errno.EFAULT), K.Fstat(P, s, two + 4090));
        Assert.Equal("0f0000000000", Convert.ToHexStringLower(P.Memory.Peek(two + 4090, 6)));
    }

    [Fact]
    public void Memfd_stat_statfs_link_and_fchmod()
    {
        int m = Memfd("hello");
        var st = Stat(m);
        Assert.Equal((1UL, 0UL, 0x81FFu, 5L, 4096L, 8L), (st.Dev, st.Nlink, st.Mode, st.Size, st.Blksize, st.Blocks));
        Assert.Equal(st.Ino, Stat((int)K.Dup(P, m)).Ino);
        Assert.NotEqual(st.Ino, Stat(Memfd()).Ino);
        Assert.Equal(0, StatSyscalls.Fstatfs(K, P, m, out var fs));
        Assert.Equal(new KernelStatfs(VfsConsts.TmpfsMagic, 4096, 0, 0, 0, 0, 0, 0, 255, 4096, VfsConsts.ST_VALID), fs);
        Assert.Equal("/memfd:m (deleted)", Link(m));
        Assert.Equal(0, K.Fchmod(P, m, 0x81A4)); // type bits ignored: 0644
        Assert.Equal(0x81A4u, Stat(m).Mode);
        long sealed_ = K.MemfdCreate(P, "s", MemfdConsts.MFD_ALLOW_SEALING);
        Assert.Equal(0, K.Fcntl(P, (int)sealed_, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_EXEC));
        Assert.Equal(E(Errno.EPERM), K.Fchmod(P, (int)sealed_, 0x1B6)); // exec bits change
        Assert.Equal(0, K.Fchmod(P, (int)sealed_, 0x1ED)); // 0755: only rw bits change
        long huge = K.MemfdCreate(P, "h", MemfdConsts.MFD_HUGETLB);
        Assert.Equal(0, StatSyscalls.Fstatfs(K, P, (int)huge, out var hfs));
        Assert.Equal((VfsConsts.HugetlbfsMagic, 2L << 20), (hfs.Type, hfs.Bsize));
        Assert.Equal(2L << 20, Stat((int)huge).Blksize);
    }

    [Fact]
    public void Device_nodes_and_O_PATH()
    {
        int dev = OpenDev();
        int nul = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(new KernelStat(5, 4, 1, 0x21B6, 0x103, 0, 4096, 0), Stat(nul));
        Assert.Equal(new KernelStat(5, 200, 1, 0x2180, 0xA7C, 0, 4096, 0), Stat(dev));
        Assert.Equal("/dev/null", Link(nul));
        Assert.Equal("/dev/liveupdate", Link(dev));
        Assert.Equal(0, StatSyscalls.Fstatfs(K, P, dev, out var fs));
        ulong pages = (1UL << 30) / 4096 / 2;
        Assert.Equal(new KernelStatfs(VfsConsts.TmpfsMagic, 4096, pages, pages, pages, pages, pages - 2, 0, 255, 4096, 0x1020), fs);
        int path = (int)K.Open(P, "/dev/null", OpenFlags.O_PATH);
        Assert.Equal(Stat(nul), Stat(path)); // fstat works on O_PATH
        Assert.Equal("/dev/null", Link(path));
        Assert.Equal(E(Errno.EBADF), K.Fchmod(P, path, 0)); // fchmod does not
        Assert.Equal(0, K.Fchmod(P, nul, 0x180));
        Assert.Equal(0x2180u, Stat(path).Mode);
    }

    [Fact]
    public void Bad_fds_and_unwritable_buffers()
    {
        int s = Create(OpenDev(), "s");
        ulong buf = UserBuf(new byte[144]);
        Assert.Equal(E(Errno.EBADF), K.Fstat(P, 77, buf));
        Assert.Equal(E(Errno.EBADF), K.Fstatfs(P, -1, buf));
        Assert.Equal(E(Errno.EBADF), K.Fchmod(P, 77, 0));
        Assert.Equal(E(Errno.EFAULT), K.Fstat(P, s, 0));
        Assert.Equal(E(Errno.EFAULT), K.Fstatfs(P, s, UserBuf(new byte[120], Prot.Read)));
    }
}
