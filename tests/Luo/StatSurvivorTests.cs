using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>
/// The stat family of the model (kernel-model/Kernel.Stat.cs, StatLayouts.cs, StatSyscalls.cs): fstat/fstatfs of
/// memfds and device nodes, fchmod, readlink of /proc/PID/fd/N, the dev_t encoding and the struct writers' bounds.
/// Written against the Stryker survivors of the `stat` chunk (property-tests/README.md).
/// </summary>
public sealed class StatSurvivorTests : LuoTestBase
{
    private static KernelConfig PerSession => new() { DramBytes = 1UL << 30, Luo = new LuoOptions { SessionInode = SessionInodeKind.MagicPerSession } };

    private string? Link(string path, int size = 4096)
    {
        ulong a = LuoSyscalls.Scratch(P);
        long rc = K.Readlink(P, path, a, size);
        return rc < 0 ? $"errno {-rc}" : Encoding.Latin1.GetString(P.Memory.Peek(a, (int)rc));
    }

    [Fact]
    public void Every_stat_call_checks_its_arguments_and_refuses_a_kernel_that_has_kexeced()
    {
        Assert.Throws<ArgumentNullException>(() => K.Fstat(null!, 0, 0));
        Assert.Throws<ArgumentNullException>(() => K.Fstatfs(null!, 0, 0));
        Assert.Throws<ArgumentNullException>(() => K.Fchmod(null!, 0, 0));
        Assert.Throws<ArgumentNullException>(() => K.Readlink(null!, "/", 0, 1));
        Assert.Throws<ArgumentNullException>(() => K.Readlink(P, null!, 0, 1));
        Assert.Throws<ArgumentNullException>(() => Kernel.Kernel.LinkText(null!));
        Assert.Throws<ArgumentNullException>(() => Kernel.Kernel.StatOf(null!));
        Assert.Throws<ArgumentNullException>(() => Kernel.Kernel.StatfsOf(null!));
        Assert.Throws<ArgumentNullException>(() => StatSyscalls.Fstat(null!, P, 0, out _));
        Assert.Throws<ArgumentNullException>(() => StatSyscalls.Fstat(K, null!, 0, out _));
        Assert.Throws<ArgumentNullException>(() => StatSyscalls.Fstatfs(null!, P, 0, out _));
        Assert.Throws<ArgumentNullException>(() => StatSyscalls.Fstatfs(K, null!, 0, out _));
        Assert.Throws<ArgumentNullException>(() => StatSyscalls.ReadFdLink(null!, P, 0, out _));
        Assert.Throws<ArgumentNullException>(() => StatSyscalls.ReadFdLink(K, null!, 0, out _));
        var old = K;
        var oldP = P;
        OpenDev();
        KexecNext();
        Assert.Throws<InvalidOperationException>(() => old.Fstat(oldP, 0, 0));
        Assert.Throws<InvalidOperationException>(() => old.Fstatfs(oldP, 0, 0));
        Assert.Throws<InvalidOperationException>(() => old.Fchmod(oldP, 0, 0));
        Assert.Throws<InvalidOperationException>(() => old.Readlink(oldP, "/proc/self/fd/0", 0, 1));
    }

    [Fact]
    public void Failed_stat_wrappers_give_default_structs_and_no_link()
    {
        int m = (int)K.MemfdCreate(P, "x", 0);
        Assert.Equal(0, StatSyscalls.Fstat(K, P, m, out var st));    // leaves a struct in the scratch buffer
        Assert.Equal(0, StatSyscalls.Fstatfs(K, P, m, out var sf));
        Assert.Equal(E(Errno.EBADF), StatSyscalls.Fstat(K, P, 9, out st));
        Assert.Equal(default, st);
        Assert.Equal(E(Errno.EBADF), StatSyscalls.Fstatfs(K, P, 9, out sf));
        Assert.Equal(default, sf);
        Assert.Equal(E(Errno.ENOENT), StatSyscalls.ReadFdLink(K, P, 9, out string? text));
        Assert.Null(text);
        Assert.Equal(18, StatSyscalls.ReadFdLink(K, P, m, out text));
        Assert.Equal("/memfd:x (deleted)", text);
    }

    [Fact]
    public void Readlink_of_proc_fd_links_and_of_other_paths()
    {
        int dev = OpenDev();
        int s = Create(dev, "sess");
        int m = (int)K.MemfdCreate(P, "mm", 0);
        Assert.Equal("/memfd:mm (deleted)", Link($"/proc/self/fd/{m}"));
        Assert.Equal("anon_inode:[luo_session] sess", Link($"/proc/{P.Pid}/fd/{s}"));
        Assert.Equal("/dev/liveupdate", Link($"/proc/self/fd/{dev}"));
        Assert.Equal("/mem", Link($"/proc/self/fd/{m}", 4));
        Assert.Equal("errno 22", Link("/dev/null"));                 // exists, not a link
        Assert.Equal("errno 22", Link("/dev/liveupdate"));
        Assert.Equal("errno 2", Link("/dev/zero"));
        Assert.Equal("errno 2", Link($"/proc/self/fd/{m}/x"));        // not of the /proc/PID/fd/N shape
        Assert.Equal("errno 2", Link($"/proc/self/fdx/{m}"));
        Assert.Equal("errno 2", Link("/proc/self/fd/0" + m));        // leading zero
        Assert.Equal("errno 2", Link($"/proc/self/fd/{m}a"));
        Assert.Equal("errno 2", Link("/proc/self/fd/"));
        Assert.Equal("errno 2", Link("/proc/99999/fd/0"));
        Assert.Equal("errno 22", Link($"/proc/self/fd/{m}", 0));
        while (K.MemfdCreate(P, "n", 0) < 9) { }                      // fd 9: the digit 9 is a digit
        Assert.Equal("/memfd:n (deleted)", Link("/proc/self/fd/9"));
    }

    [Fact]
    public void Fchmod_of_one_device_node_keeps_the_others_permissions()
    {
        int dev = OpenDev();
        int nul = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(0, K.Fchmod(P, nul, 0x180));
        Assert.Equal(0, K.Fchmod(P, dev, 0x1A0));
        Assert.Equal(0, StatSyscalls.Fstat(K, P, nul, out var st));
        Assert.Equal(VfsConsts.S_IFCHR | 0x180u, st.Mode);
        Assert.Equal(0, StatSyscalls.Fstat(K, P, dev, out st));
        Assert.Equal(VfsConsts.S_IFCHR | 0x1A0u, st.Mode);
    }

    [Fact]
    public void Statfs_of_dev_null_is_devtmpfs_sized_from_memory_and_a_hugetlb_memfd_is_on_its_own_device()
    {
        int nul = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(0, StatSyscalls.Fstatfs(K, P, nul, out var sf));
        ulong pages = (1UL << 30) / 4096 / 2;
        Assert.Equal((VfsConsts.TmpfsMagic, pages, pages - 2), (sf.Type, sf.Blocks, sf.Ffree));
        int huge = (int)K.MemfdCreate(P, "h", MemfdConsts.MFD_HUGETLB);
        Assert.Equal(0, StatSyscalls.Fstat(K, P, huge, out var st));
        Assert.Equal(VfsConsts.EncodeDev(0, ModelInodes.HugetlbMinor), st.Dev);
        Assert.Equal(ModelInodes.HugePageSize, st.Blksize);
    }

    [Fact]
    public void Dev_t_keeps_the_high_minor_bits_above_the_major()
    {
        Assert.Equal(0x1230_0A45UL, VfsConsts.EncodeDev(0x0A, 0x12345)); // minor low byte, major, minor high bits << 12
        Assert.Equal(0x0A05UL, VfsConsts.EncodeDev(0x0A, 5));
    }

    [Fact]
    public void Struct_writers_refuse_a_short_buffer()
    {
        var st = new KernelStat(1, 2, 3, 4, 5, 6, 7, 8);
        Assert.Equal("struct stat needs 144 bytes (Parameter 'b')", Assert.Throws<ArgumentException>(() => st.WriteTo(new byte[143])).Message);
        var big = new byte[150];
        big.AsSpan().Fill(0xEE);
        st.WriteTo(big);
        Assert.Equal(st, KernelStat.ReadFrom(big));
        Assert.Equal(0xEE, big[144]);                                // only the struct's 144 bytes are written
        Assert.Equal(0, big[140]);                                   // padding cleared
        var sf = new KernelStatfs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        Assert.Equal("struct statfs needs 120 bytes (Parameter 'b')", Assert.Throws<ArgumentException>(() => sf.WriteTo(new byte[119])).Message);
        var b2 = new byte[121];
        b2.AsSpan().Fill(0xEE);
        sf.WriteTo(b2);
        Assert.Equal(sf, KernelStatfs.ReadFrom(b2));
        Assert.Equal(0xEE, b2[120]);
    }

    [Fact]
    public void Session_inode_numbers_come_only_from_the_per_session_variant()
    {
        int s = Create(OpenDev(), "a");
        Assert.Equal(0UL, Assert.IsType<SessionFile>(P.FileOf(s)).LuosIno); // anon inode: no number taken
        K = Kernel.Kernel.ColdBoot(PerSession);
        P = K.CreateProcess();
        int d = OpenDev();
        int s1 = Create(d, "a"), s2 = Create(d, "b");
        Assert.Equal((1UL, 2UL), (Assert.IsType<SessionFile>(P.FileOf(s1)).LuosIno, Assert.IsType<SessionFile>(P.FileOf(s2)).LuosIno));
        Assert.Equal("luo_session:[b]", Link($"/proc/self/fd/{s2}"));
        Assert.Equal("luo_session:[x]", Kernel.Kernel.SessionLinkText("x", SessionInodeKind.MagicPerSession));
        Assert.Equal("luo_session:x", Kernel.Kernel.SessionLinkText("x", SessionInodeKind.MagicSingleton));
        Assert.Equal("anon_inode:[luo_session] x", Kernel.Kernel.SessionLinkText("x", SessionInodeKind.Anon));
    }
}
