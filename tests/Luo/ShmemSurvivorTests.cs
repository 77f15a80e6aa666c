using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of ShmemInode.cs and ShmemPageMap.cs (`kernel` chunk):
/// dirty marks on holes and present pages, truncation of the page cache and of the partial tail page, reads
/// inside and across pages (physically adjacent neighbours must stay untouched), the model OOM of a write
/// through a mapping, eviction on a live and on a kexec'd KHO, and the inline-first page map itself.</summary>
public class ShmemSurvivorTests : LuoTestBase
{
    private const int Page = UserMemory.PageSize;

    private ShmemInode InodeOf(int fd) => ((MemfdFile)P.FileOf(fd)!).Inode;

    private byte[] Pread(int fd, int count, long offset)
    {
        ulong buf = UserBuf(new byte[count]);
        long n = K.Pread(P, fd, buf, (ulong)count, offset);
        Assert.Equal(count, n);
        return P.Memory.Peek(buf, count);
    }

    private int Filled(byte value)
    {
        int fd = Memfd();
        var data = new byte[Page];
        Array.Fill(data, value);
        Assert.Equal(Page, LuoSyscalls.WriteBytes(K, P, fd, data));
        return fd;
    }

    /// <summary>Two one-page memfds whose pages are physically adjacent (the allocator hands out the lowest free
    /// page), so an access running past the end of <c>a</c>'s page lands in <c>b</c>'s.</summary>
    private (int A, int B) Neighbours()
    {
        int a = Filled((byte)'a');
        int b = Filled((byte)'b');
        Assert.True(InodeOf(a).TryGetPage(0, out ulong pa));
        Assert.True(InodeOf(b).TryGetPage(0, out ulong pb));
        Assert.Equal(pa + 1, pb);
        return (a, b);
    }

    [Fact]
    public void Dirty_marks_on_holes_accumulate_and_carry_over_to_the_allocated_page()
    {
        int fd = Memfd();
        Assert.Equal(0, K.Ftruncate(P, fd, 3 * Page));
        var inode = InodeOf(fd);
        inode.MarkDirty(1);
        inode.MarkDirty(2);
        Assert.Equal(0, inode.PageCount);
        Assert.False(inode.IsDirty(0));
        Assert.True(inode.IsDirty(1));
        Assert.True(inode.IsDirty(2));
        Assert.True(inode.AllocPage(1, out _));
        Assert.True(inode.IsDirty(1));                    // the hole's mark applies to the new page
        Assert.True(inode.AllocPage(0, out _));
        Assert.False(inode.IsDirty(0));                   // a freshly allocated page is clean
        inode.MarkDirty(0);
        Assert.True(inode.IsDirty(0));
        Assert.Equal(2, inode.PageCount);
    }

    [Fact]
    public void Truncate_forgets_dirty_holes_from_the_first_page_gone()
    {
        int fd = Memfd();
        Assert.Equal(0, K.Ftruncate(P, fd, 3 * Page));
        var inode = InodeOf(fd);
        for (ulong i = 0; i < 3; i++) inode.MarkDirty(i);
        Assert.Equal(0, K.Ftruncate(P, fd, Page));
        Assert.True(inode.IsDirty(0));
        Assert.False(inode.IsDirty(1));
        Assert.False(inode.IsDirty(2));
        Assert.Equal(0, K.Ftruncate(P, fd, 3 * Page));
        Assert.True(inode.AllocPage(1, out _));
        Assert.False(inode.IsDirty(1));
    }

    [Fact]
    public void Reads_start_at_the_offset_inside_the_page_and_holes_read_as_zero()
    {
        int fd = Memfd("hello world");
        Assert.Equal("world"u8.ToArray(), Pread(fd, 5, 6));
        var junk = new byte[16];
        Array.Fill(junk, (byte)0xEE);
        InodeOf(fd).ReadPage(5, 10, junk);
        Assert.Equal(new byte[16], junk);
    }

    [Fact]
    public void A_read_across_a_page_boundary_switches_pages()
    {
        var (a, _) = Neighbours();
        Assert.Equal(0, K.Ftruncate(P, a, 2 * Page));    // page 1 of a is a hole
        var expect = new byte[100];
        Array.Fill(expect, (byte)'a', 0, 46);
        Assert.Equal(expect, Pread(a, 100, Page - 46));
    }

    [Fact]
    public void Truncate_zeroes_exactly_the_tail_of_the_last_page()
    {
        var (a, b) = Neighbours();
        Assert.Equal(0, K.Ftruncate(P, a, 100));
        Assert.Equal(0, K.Ftruncate(P, a, Page));
        var expect = new byte[Page];
        Array.Fill(expect, (byte)'a', 0, 100);
        Assert.Equal(expect, Pread(a, Page, 0));
        Array.Fill(expect, (byte)'b');
        Assert.Equal(expect, Pread(b, Page, 0));          // the neighbouring page is untouched
        Assert.Equal(1, InodeOf(a).PageCount);
    }

    [Fact]
    public void A_write_through_a_mapping_that_cannot_get_a_page_is_a_model_oom()
    {
        int fd = Memfd();
        var inode = InodeOf(fd);
        K.Kho.Pages.InjectFailure(0);
        var ex = Assert.Throws<InsufficientMemoryException>(() => inode.WritePage(0, 0, [1]));
        Assert.Equal("shmem page allocation failed (model OOM)", ex.Message);
        Assert.Equal(0, inode.PageCount);
    }

    [Fact]
    public void Closing_the_last_description_frees_the_page_cache()
    {
        ulong used = K.Kho.Pages.UsedPages;
        int fd = Memfd();
        var inode = InodeOf(fd);
        ulong buf = UserBuf(new byte[3 * Page]);
        Assert.Equal(3 * Page, K.Write(P, fd, buf, 3 * Page));
        Assert.Equal(3, inode.PageCount);
        Assert.Equal(used + 3, K.Kho.Pages.UsedPages);
        Assert.Equal(0, K.Close(P, fd));
        Assert.Equal(0, inode.PageCount);
        Assert.Equal(used, K.Kho.Pages.UsedPages);
    }

    [Fact]
    public void Evict_after_kexec_only_forgets_the_pages()
    {
        int fd = Memfd(new string('z', Page + 1));
        var inode = InodeOf(fd);
        Assert.Equal(2, inode.PageCount);
        KexecNext();
        inode.Evict();                                    // the dead KHO's allocator is not touched
        Assert.Equal(0, inode.PageCount);
    }

    // ----- ShmemPageMap -----

    [Fact]
    public void Page_map_replaces_in_place_and_reuses_the_inline_slot()
    {
        var m = new ShmemPageMap();
        m.Set(0, 10, false);
        m.Set(0, 11, false);
        Assert.Equal(1, m.Count);
        Assert.True(m.TryGetPfn(0, out ulong p0));
        Assert.Equal(11UL, p0);
        m.Set(1, 20, false);
        Assert.Equal(2, m.Count);
        Assert.True(m.TryGetPfn(0, out p0));
        Assert.True(m.TryGetPfn(1, out ulong p1));
        Assert.Equal((11UL, 20UL), (p0, p1));
        Assert.True(m.Remove(0, out ulong gone));
        Assert.Equal(11UL, gone);
        m.Set(1, 21, true);                               // index 1 lives in the dictionary: replaced there
        Assert.Equal(1, m.Count);
        Assert.True(m.TryGetPfn(1, out p1));
        Assert.Equal(21UL, p1);
        Assert.True(m.IsDirty(1));
        m.Set(2, 30, false);                              // the free inline slot takes it
        Assert.Equal(2, m.Count);
    }

    [Fact]
    public void Page_map_marks_only_the_named_page_dirty_and_keeps_it_dirty()
    {
        var empty = new ShmemPageMap();
        empty.MarkDirty(3);
        Assert.Equal(0, empty.Count);
        var m = new ShmemPageMap();
        m.Set(0, 10, false);
        m.Set(1, 20, false);
        m.MarkDirty(1);
        Assert.True(m.IsDirty(1));
        Assert.False(m.IsDirty(0));
        m.MarkDirty(0);
        m.MarkDirty(0);
        m.MarkDirty(1);
        Assert.True(m.IsDirty(0));
        Assert.True(m.IsDirty(1));
        m.MarkDirty(7);
        Assert.False(m.IsDirty(7));
        Assert.Equal(2, m.Count);
        Assert.True(m.TryGetPfn(0, out ulong p0));
        Assert.Equal(10UL, p0);
    }

    [Fact]
    public void Page_map_remove_and_clear()
    {
        var m = new ShmemPageMap();
        m.Set(3, 42, true);
        Assert.True(m.Remove(3, out ulong pfn));
        Assert.Equal(42UL, pfn);
        Assert.Equal(0, m.Count);
        Assert.False(m.TryGetPfn(3, out _));
        Assert.False(m.Remove(3, out pfn));
        Assert.Equal(0UL, pfn);
        m.Set(0, 1, false);
        m.Set(1, 2, false);
        m.Set(2, 3, false);
        Assert.False(m.Remove(9, out _));
        Assert.Equal(3, m.Count);
        m.Clear();
        Assert.Equal(0, m.Count);
        Assert.False(m.TryGetPfn(0, out _));
        Assert.False(m.TryGetPfn(1, out _));
        Assert.Empty(m.Entries());
        Assert.Empty(m.Pfns());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Page_map_entries_and_pfns_strip_the_dirty_bit(bool inlineDirty)
    {
        var m = new ShmemPageMap();
        m.Set(0, 10, inlineDirty);
        m.Set(1, 20, !inlineDirty);
        m.Set(2, 30, inlineDirty);
        Assert.Equal([(0UL, 10UL, inlineDirty), (1UL, 20UL, !inlineDirty), (2UL, 30UL, inlineDirty)],
            m.Entries().OrderBy(e => e.Index));
        Assert.Equal([10UL, 20UL, 30UL], m.Pfns().Order());
    }
}
