using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>
/// A process's user memory (kernel-model/UserMemory.cs: mappings, protection, faults, copy-on-write, fork) and its
/// fd table's reserved-but-not-installed slots (Process.cs: get_unused_fd_flags / fd_install / put_unused_fd).
/// Written against the Stryker survivors of the `process` chunk (property-tests/README.md).
/// </summary>
public sealed class AddressSpaceSurvivorTests : LuoTestBase
{
    private const int Page = UserMemory.PageSize;

    private static byte[] Pages(int n)
    {
        var b = new byte[n * Page];
        for (int i = 0; i < b.Length; i++) b[i] = (byte)('a' + (i / Page));
        return b;
    }

    [Fact]
    public void Mapping_zero_bytes_is_a_usage_error_and_poke_or_peek_of_a_hole_throws()
    {
        var m = P.Memory;
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Map(0, Prot.Read));
        ulong a = m.Map(1, Prot.Read);
        Assert.Equal("poke of unmapped 0x" + (a + Page).ToString("x"), Assert.Throws<InvalidOperationException>(() => m.Poke(a + Page - 1, [1, 2])).Message);
        Assert.Equal("peek of unmapped 0x" + (a + Page).ToString("x"), Assert.Throws<InvalidOperationException>(() => m.Peek(a + Page - 1, 2)).Message);
    }

    [Fact]
    public void Protect_and_unmap_touch_exactly_the_pages_of_their_range()
    {
        var m = P.Memory;
        ulong a = m.Map(3 * Page, Prot.Read | Prot.Write);
        m.Protect(a, Page, Prot.Read);
        Assert.False(m.TryWrite(a, [1]));
        Assert.True(m.TryWrite(a + Page, [1]));
        m.Protect(a + Page, 1, Prot.None);              // a partial page protects that whole page only
        Assert.False(m.IsReadable(a + Page));
        Assert.True(m.IsReadable(a + (2 * Page)));
        Assert.False(m.TryRead(a + Page, new byte[1]));
        m.Protect(a + (2 * Page), Page, Prot.Write);    // write-only still reads (x86 has no write-only pages)
        Assert.True(m.IsReadable(a + (2 * Page)));
        Assert.True(m.TryRead(a + (2 * Page), new byte[1]));
        int before = m.MappedPages;
        m.Unmap(a + Page, Page);
        Assert.Equal(before - 1, m.MappedPages);
        Assert.True(m.IsReadable(a) && !m.IsReadable(a + Page) && m.IsReadable(a + (2 * Page)));
        Assert.False(m.IsReadable(a + (3 * Page)));      // the guard hole after every mapping
    }

    [Fact]
    public void A_fresh_anonymous_page_reads_as_zeros_into_any_buffer()
    {
        ulong a = P.Memory.Map(Page, Prot.Read);
        var buf = new byte[16];
        buf.AsSpan().Fill(0xFF);
        Assert.True(P.Memory.TryRead(a + 8, buf));
        Assert.All(buf, b => Assert.Equal(0, b));
    }

    [Fact]
    public void A_file_mapping_at_an_offset_shows_the_files_pages_from_there_and_faults_past_eof()
    {
        int fd = MemfdWith(Pages(3), MemfdConsts.MFD_ALLOW_SEALING);
        long addr = K.Mmap(P, 3 * Page, Prot.Read, MemfdConsts.MAP_SHARED, fd, Page);
        Assert.True(addr > 0);
        var two = new byte[2 * Page];
        Assert.True(P.Memory.TryRead((ulong)addr, two));
        Assert.Equal(Pages(3)[Page..], two);
        Assert.False(P.Memory.TryRead((ulong)addr + (2 * Page), new byte[1])); // file page 3 == i_size / 4096: SIGBUS
        Assert.False(P.Memory.IsReadable((ulong)addr + (2 * Page)));
        Assert.True(P.Memory.IsReadable((ulong)addr + (2 * Page) - 1));
        Assert.Equal(0, K.Munmap(P, (ulong)addr, 3 * Page));
    }

    [Fact]
    public void Writes_fault_on_read_only_pages_and_past_the_end_of_a_shared_file_mapping()
    {
        int fd = MemfdWith(Pages(1), MemfdConsts.MFD_ALLOW_SEALING);
        long addr = K.Mmap(P, 2 * Page, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, fd, 0);
        Assert.True(P.Memory.TryWrite((ulong)addr + 5, "X"u8));
        Assert.False(P.Memory.TryWrite((ulong)addr + Page, "Y"u8));
        Assert.False(P.Memory.TryWrite((ulong)addr + Page - 1, "ZZ"u8)); // the first byte lands, the second faults
        Assert.Equal((byte)'Z', P.Memory.Peek((ulong)addr + Page - 1, 1)[0]);
        ulong ro = P.Memory.Map(Page, Prot.Read);
        Assert.False(P.Memory.TryWrite(ro, [1]));
        Assert.Equal(8, K.Pread(P, fd, LuoSyscalls.Scratch(P), 8, 0));
        Assert.Equal("aaaaaX", Encoding.ASCII.GetString(P.Memory.Peek(LuoSyscalls.Scratch(P), 6)));
    }

    [Fact]
    public void A_private_file_mapping_copies_the_page_on_the_first_write_and_leaves_the_file_alone()
    {
        int fd = MemfdWith(Pages(1), MemfdConsts.MFD_ALLOW_SEALING);
        long addr = K.Mmap(P, Page, Prot.Read | Prot.Write, MemfdConsts.MAP_PRIVATE, fd, 0);
        Assert.True(P.Memory.TryWrite((ulong)addr + 1, "Q"u8));
        Assert.Equal("aQaa", Encoding.ASCII.GetString(P.Memory.Peek((ulong)addr, 4)));
        Assert.Equal(4, K.Pread(P, fd, LuoSyscalls.Scratch(P), 4, 0));
        Assert.Equal("aaaa", Encoding.ASCII.GetString(P.Memory.Peek(LuoSyscalls.Scratch(P), 4)));
    }

    [Fact]
    public void A_forked_child_holds_its_own_reference_on_every_mapped_file_page()
    {
        int fd = MemfdWith(Pages(1), MemfdConsts.MFD_ALLOW_SEALING);
        long addr = K.Mmap(P, Page, Prot.Read, MemfdConsts.MAP_SHARED, fd, 0);
        var f = Assert.IsType<MemfdFile>(P.FileOf(fd));
        Assert.Equal(0, K.Close(P, fd));                // only the mapping keeps the file now
        var child = K.Fork(P);
        K.Exit(child);                                   // drops the child's page references
        Assert.Equal("aaaa", Encoding.ASCII.GetString(P.Memory.Peek((ulong)addr, 4)));
        Assert.Equal(1, f.Inode.PageCount);              // not released: the parent's mapping still holds it
    }

    [Fact]
    public void Only_a_writable_shared_mapping_blocks_the_write_seal()
    {
        int fd = MemfdWith(Pages(1), MemfdConsts.MFD_ALLOW_SEALING);
        long ro = K.Mmap(P, Page, Prot.Read, MemfdConsts.MAP_SHARED, fd, 0);
        long priv = K.Mmap(P, Page, Prot.Read | Prot.Write, MemfdConsts.MAP_PRIVATE, fd, 0);
        Assert.True(ro > 0 && priv > 0);
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_WRITE));
        int fd2 = MemfdWith(Pages(1), MemfdConsts.MFD_ALLOW_SEALING);
        Assert.True(K.Mmap(P, Page, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, fd2, 0) > 0);
        Assert.Equal(E(Errno.EBUSY), K.Fcntl(P, fd2, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_WRITE));
    }

    [Fact]
    public void Unmapping_anonymous_memory_through_munmap_drops_no_file()
    {
        ulong a = P.Memory.Map(2 * Page, Prot.Read | Prot.Write);
        Assert.Equal(0, K.Munmap(P, a, 2 * Page));
        Assert.False(P.Memory.IsReadable(a));
    }

    [Fact]
    public void A_reserved_fd_is_invisible_until_installed_and_only_a_reservation_can_be_unreserved()
    {
        var p = K.CreateProcess();
        int fd = p.Reserve(0, cloexec: true);
        Assert.Equal(0, fd);
        Assert.Null(p.FileOf(fd));
        Assert.Null(p.GetFile(fd));
        Assert.False(p.IsCloseOnExec(fd));
        Assert.Null(p.Remove(fd));                      // close() of a reserved slot: EBADF, slot kept
        Assert.Equal(1, p.Reserve(0, false));           // so the next reservation skips it
        p.SetCloseOnExec(fd, false);                    // F_SETFD on a reserved slot changes nothing
        var file = new HostForeignFile(K, "/x", OpenFlags.O_RDWR);
        p.Install(fd, file);
        Assert.True(p.IsCloseOnExec(fd));
        Assert.Same(file, p.FileOf(fd));
        Assert.Equal("fd 0 already installed", Assert.Throws<InvalidOperationException>(() => p.Install(fd, file)).Message);
        p.Unreserve(fd);                                // an installed fd is not a reservation
        Assert.Same(file, p.FileOf(fd));
        p.Unreserve(1);
        Assert.Equal(1, p.Reserve(0, false));
        Assert.Equal($"pid {p.Pid}", p.ToString());
    }
}
