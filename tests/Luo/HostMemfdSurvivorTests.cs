using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>
/// Host-backed memfds (kernel-model/HostMemfd.cs, selftest-shim.md §6.1, §7) through the model's own surface: what
/// preserve takes from the host file, what freeze copies, fd installation and its limits, attaching a backing to a
/// retrieved memfd, and reading a memfd's bytes for the daemon. Written against the Stryker survivors of the
/// `process` chunk (property-tests/README.md).
/// </summary>
public sealed class HostMemfdSurvivorTests : LuoTestBase
{
    private const int Page = PhysicalArena.PageSize;

    /// <summary>A host file holding exactly <paramref name="data"/>.</summary>
    private static FakeHostFile Host(ulong ino, byte[] data) => new(ino, "", 0) { Data = data };

    /// <summary>Every byte of page i is 'A' + i (mod 26), up to <paramref name="length"/>.</summary>
    private static byte[] Pattern(int length, int shift = 0)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)('A' + (((i / Page) + shift) % 26));
        return b;
    }

    private MemfdFile FileAt(Process p, long fd) => Assert.IsType<MemfdFile>(p.FileOf((int)fd));

    [Fact]
    public void Preserve_takes_size_seals_offset_and_marks_every_page_below_the_size_written()
    {
        int s = Create(OpenDev(), "h");
        var host = new FakeHostFile(1, "", 0) { Data = Pattern((2 * Page) + 100), Position = 77, Seals = Seals.F_SEAL_GROW };
        long fd = K.InstallHostMemfd(P, host);
        var f = FileAt(P, fd);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)fd, 1));
        Assert.Equal((2 * Page) + 100, f.Inode.Size);
        Assert.Equal(Seals.F_SEAL_GROW, f.Inode.Seals);
        Assert.Equal(77, f.Position);
        Assert.Equal(3, f.Inode.PageCount);
        Assert.True(f.Inode.IsDirty(0) && f.Inode.IsDirty(1) && f.Inode.IsDirty(2));
        Assert.False(f.Inode.IsDirty(3));
    }

    [Fact]
    public void A_negative_host_offset_or_size_reads_as_zero()
    {
        int s = Create(OpenDev(), "h");
        var host = new FakeHostFile(2, "", 0) { Data = [], Position = -5, SizeOverride = -1 };
        long fd = K.InstallHostMemfd(P, host);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)fd, 1));
        var f = FileAt(P, fd);
        Assert.Equal(0, f.Inode.Size);
        Assert.Equal(0, f.Position);
        Assert.Equal(0, f.Inode.PageCount);
    }

    [Fact]
    public void A_host_file_larger_than_memory_fails_preserve_without_marking_its_pages()
    {
        int s = Create(OpenDev(), "h");
        var host = new FakeHostFile(3, "", 0) { Data = [], SizeOverride = 1L << 40 };
        long fd = K.InstallHostMemfd(P, host);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.PreserveFd(K, P, s, (int)fd, 1));
        var f = FileAt(P, fd);
        Assert.False(f.Inode.IsDirty(0)); // the pages preserve allocated before ENOMEM stay in the page cache, clean
    }

    [Fact]
    public void A_host_file_that_shrank_between_two_preserves_drops_the_pages_past_its_new_end()
    {
        int dev = OpenDev();
        int s = Create(dev, "h");
        var host = Host(4, Pattern(3 * Page));
        long fd = K.InstallHostMemfd(P, host);
        var f = FileAt(P, fd);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)fd, 1));
        Assert.Equal(3, f.Inode.PageCount);
        Assert.Equal(0, K.Close(P, s)); // unpreserve
        host.Data = Pattern(Page + 1);
        int s2 = Create(dev, "h2");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s2, (int)fd, 1));
        Assert.Equal(Page + 1, f.Inode.Size);
        Assert.Equal(2, f.Inode.PageCount);
        Assert.False(f.Inode.TryGetPage(2, out _));
    }

    [Fact]
    public void Freeze_copies_every_page_and_a_host_that_shrank_since_preserve_leaves_zeros()
    {
        int s = Create(OpenDev(), "h");
        int len = (2 * Page) + 100;
        var host = Host(5, Pattern(len));
        long fd = K.InstallHostMemfd(P, host);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)fd, 7));
        Assert.Equal(0, K.Close(P, (int)fd));
        host.Data = Pattern(Page + 10, shift: 3); // shrank: page 1 is partly, page 2 wholly past the end
        host.Position = 12;
        KexecNext();
        int dev2 = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev2, "h", out int s2));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s2, 7, out int rfd));
        var m = FileAt(P, rfd);
        Assert.Equal(len, m.Inode.Size); // the size preserve took
        Assert.Equal(12, m.Position);    // the offset freeze took
        var got = new byte[len];
        Assert.Equal(len, Kernel.Kernel.ReadMemfdContents(m, 0, got));
        var want = new byte[len];
        Pattern(Page + 10, shift: 3).CopyTo(want, 0);
        Assert.Equal(want, got);
    }

    [Fact]
    public void Install_takes_the_lowest_fd_as_a_read_write_sealable_memfd_named_host()
    {
        var p = K.CreateProcess();
        var host = Host(6, Pattern(10));
        Assert.Equal(0, K.InstallHostMemfd(p, host));
        var f = FileAt(p, 0);
        Assert.Equal(OpenFlags.O_RDWR | OpenFlags.O_LARGEFILE, f.Flags);
        Assert.Equal("host", f.Inode.Name);
        Assert.Equal(0, K.Fcntl(p, 0, FcntlCmd.F_GET_SEALS));
        Assert.Same(host, f.Inode.Host);
        Assert.Equal(1, K.HostFileCount);
        Assert.Equal(1, K.InstallHostForeignFile(p, "/dev/zero"));
        Assert.Equal("/dev/zero", p.FdPath(1));
        Assert.Equal(OpenFlags.O_RDWR, p.FileOf(1)!.Flags);
    }

    [Fact]
    public void Install_at_the_fd_limit_answers_emfile_and_releases_the_backing()
    {
        var p = K.CreateProcess();
        Assert.Equal(0, K.SetrlimitNofile(p, 1, 1));
        Assert.Equal(0, K.InstallHostForeignFile(p, "/dev/null"));
        var host = Host(7, Pattern(10));
        Assert.Equal(E(Errno.EMFILE), K.InstallHostMemfd(p, host));
        Assert.Equal(1, host.Releases);
        Assert.Equal(0, K.HostFileCount);
        Assert.Equal(E(Errno.EMFILE), K.InstallHostForeignFile(p, "/dev/null"));
    }

    [Fact]
    public void Install_checks_its_arguments_and_refuses_a_kernel_that_has_kexeced()
    {
        Assert.Throws<ArgumentNullException>(() => K.InstallHostMemfd(null!, Host(8, [])));
        Assert.Throws<ArgumentNullException>(() => K.InstallHostMemfd(P, null!));
        Assert.Throws<ArgumentNullException>(() => K.InstallHostForeignFile(null!, "x"));
        Assert.Throws<ArgumentNullException>(() => K.InstallHostForeignFile(P, null!));
        var old = K;
        KexecNext();
        Assert.Throws<InvalidOperationException>(() => old.InstallHostMemfd(P, Host(9, [])));
        Assert.Throws<InvalidOperationException>(() => old.InstallHostForeignFile(P, "x"));
    }

    [Fact]
    public void Attach_backing_registers_the_identity_once_and_release_closes_every_backing()
    {
        long a = K.MemfdCreate(P, "a", 0), b = K.MemfdCreate(P, "b", 0);
        var fa = FileAt(P, a);
        var h1 = Host(10, Pattern(10));
        Assert.True(K.AttachHostBacking(fa, h1));
        Assert.Same(h1, fa.Inode.Host);
        Assert.Equal(1, K.HostFileCount);
        Assert.False(K.AttachHostBacking(fa, Host(11, [])));          // this inode already has one
        Assert.False(K.AttachHostBacking(FileAt(P, b), Host(10, []))); // that identity is taken
        Assert.Null(FileAt(P, b).Inode.Host);
        var again = Host(10, []);
        long fd = K.InstallHostMemfd(P, again);                          // the host fd of the same file
        Assert.Same(fa.Inode, FileAt(P, fd).Inode);
        Assert.Equal(1, again.Releases);
        Assert.Throws<ArgumentNullException>(() => K.AttachHostBacking(null!, h1));
        Assert.Throws<ArgumentNullException>(() => K.AttachHostBacking(fa, null!));
        var h2 = Host(12, []);
        Assert.True(K.AttachHostBacking(FileAt(P, b), h2));
        K.ReleaseHostBackings();
        Assert.Equal((1, 1, 0), (h1.Releases, h2.Releases, K.HostFileCount));
        Assert.Null(fa.Inode.Host);
    }

    [Fact]
    public void Reading_a_memfds_bytes_clips_to_its_size_from_any_offset()
    {
        long fd = Memfd("0123456789");
        var f = FileAt(P, fd);
        var buf = new byte[32];
        Assert.Equal(6, Kernel.Kernel.ReadMemfdContents(f, 4, buf));
        Assert.Equal("456789", Encoding.ASCII.GetString(buf, 0, 6));
        Assert.Equal(0, Kernel.Kernel.ReadMemfdContents(f, 10, buf));
        Assert.Equal(0, Kernel.Kernel.ReadMemfdContents(f, 11, buf));
        Assert.Equal(0, Kernel.Kernel.ReadMemfdContents(f, -1, buf));
        Assert.Equal(3, Kernel.Kernel.ReadMemfdContents(f, 0, buf.AsSpan(0, 3)));
        Assert.Throws<ArgumentNullException>(() => Kernel.Kernel.ReadMemfdContents(null!, 0, buf));
    }
}
