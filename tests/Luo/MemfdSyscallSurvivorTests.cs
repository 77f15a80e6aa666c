using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of Kernel.Memfd.cs (`kernel` chunk): ftruncate and write
/// under F_SEAL_SHRINK/GROW/WRITE/FUTURE_WRITE at the exact size boundary (memfd_create(2), fcntl(2) file
/// sealing), the MAX_RW_COUNT clamp of write(2), negative pread/pwrite offsets, lseek(2) whence arithmetic, and
/// mmap(2)/munmap(2) argument checks, seal rules and per-page file references.</summary>
public class MemfdSyscallSurvivorTests : LuoTestBase
{
    private const int Page = UserMemory.PageSize;

    private int Sealable(long size)
    {
        long fd = K.MemfdCreate(P, "sealable", MemfdConsts.MFD_ALLOW_SEALING);
        Assert.True(fd >= 0);
        Assert.Equal(0, K.Ftruncate(P, (int)fd, size));
        return (int)fd;
    }

    private long AddSeals(int fd, uint seals) => K.Fcntl(P, fd, FcntlCmd.F_ADD_SEALS, seals);

    private long SizeOf(int fd) => ((MemfdFile)P.FileOf(fd)!).Inode.Size;

    private byte[] Pread(int fd, int count, long offset)
    {
        ulong buf = UserBuf(new byte[count]);
        long n = K.Pread(P, fd, buf, (ulong)count, offset);
        Assert.True(n >= 0, $"pread = {n}");
        return P.Memory.Peek(buf, (int)n);
    }

    [Fact]
    public void Ftruncate_to_the_current_size_passes_shrink_and_grow_seals()
    {
        int fd = Sealable(Page);
        Assert.Equal(0, AddSeals(fd, Seals.F_SEAL_SHRINK | Seals.F_SEAL_GROW));
        Assert.Equal(0, K.Ftruncate(P, fd, Page));
        Assert.Equal(E(Errno.EPERM), K.Ftruncate(P, fd, Page - 1));
        Assert.Equal(E(Errno.EPERM), K.Ftruncate(P, fd, Page + 1));
        Assert.Equal(Page, SizeOf(fd));
    }

    [Fact]
    public void Pread_and_pwrite_reject_a_negative_offset()
    {
        int fd = Memfd();
        ulong buf = UserBuf(Encoding.ASCII.GetBytes("data"));
        Assert.Equal(E(Errno.EINVAL), K.Pwrite(P, fd, buf, 4, -1));
        Assert.Equal(E(Errno.EINVAL), K.Pread(P, fd, buf, 4, -1));
        Assert.Equal(0, SizeOf(fd));
        Assert.Equal(0, ((MemfdFile)P.FileOf(fd)!).Inode.PageCount);
    }

    [Theory]
    [InlineData(Seals.F_SEAL_WRITE)]
    [InlineData(Seals.F_SEAL_FUTURE_WRITE)]
    public void Write_seals_refuse_writes_and_shared_writable_maps_only(uint seal)
    {
        int fd = Sealable(Page);
        ulong buf = UserBuf(Encoding.ASCII.GetBytes("orig"));
        Assert.Equal(4, K.Write(P, fd, buf, 4));
        Assert.Equal(0, AddSeals(fd, seal));
        Assert.Equal(E(Errno.EPERM), K.Write(P, fd, buf, 4));
        Assert.Equal(E(Errno.EPERM), K.Pwrite(P, fd, buf, 4, 0));
        Assert.Equal(E(Errno.EPERM), K.Mmap(P, Page, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, fd, 0));
        long ro = K.Mmap(P, Page, Prot.Read, MemfdConsts.MAP_SHARED, fd, 0);
        Assert.True(ro > 0, $"shared read-only mmap = {ro}");
        long priv = K.Mmap(P, Page, Prot.Read | Prot.Write, MemfdConsts.MAP_PRIVATE, fd, 0);
        Assert.True(priv > 0, $"private writable mmap = {priv}");
        Assert.True(P.Memory.TryWrite((ulong)priv, "copy"u8));   // copy-on-write: the file keeps its bytes
        Assert.Equal("copy"u8.ToArray(), P.Memory.Peek((ulong)priv, 4));
        Assert.Equal("orig"u8.ToArray(), Pread(fd, 4, 0));
        Assert.Equal("orig"u8.ToArray(), P.Memory.Peek((ulong)ro, 4));
    }

    [Fact]
    public void Write_counts_beyond_max_rw_count_are_clamped_before_the_grow_seal_check()
    {
        int fd = Sealable(2 * Page);
        Assert.Equal(0, AddSeals(fd, Seals.F_SEAL_GROW));
        ulong buf = UserBuf(new byte[2 * Page]);
        Assert.Equal(E(Errno.EPERM), K.Write(P, fd, buf, (ulong)int.MaxValue + 1)); // 0x7ffff000 bytes would grow it
        Assert.Equal(E(Errno.EPERM), K.Write(P, fd, buf, ulong.MaxValue));
        Assert.Equal(0, K.Lseek(P, fd, 0, MemfdConsts.SEEK_CUR));
        Assert.Equal(2 * Page, SizeOf(fd));
        Assert.Equal(0, ((MemfdFile)P.FileOf(fd)!).Inode.PageCount);
    }

    [Fact]
    public void Grow_seal_allows_a_write_that_ends_exactly_at_the_size()
    {
        int fd = Sealable(Page);
        Assert.Equal(0, AddSeals(fd, Seals.F_SEAL_GROW));
        ulong buf = UserBuf(Encoding.ASCII.GetBytes("0123456789"));
        Assert.Equal(10, K.Pwrite(P, fd, buf, 10, Page - 10));
        Assert.Equal(E(Errno.EPERM), K.Pwrite(P, fd, buf, 10, Page - 9));
        Assert.Equal(Page, SizeOf(fd));
        Assert.Equal("0123456789"u8.ToArray(), Pread(fd, 10, Page - 10));
    }

    [Fact]
    public void Lseek_whence_arithmetic_and_bad_whence()
    {
        int fd = Memfd(new string('x', 90) + "0123456789");
        Assert.Equal(100, K.Lseek(P, fd, 0, MemfdConsts.SEEK_CUR));
        Assert.Equal(10, K.Lseek(P, fd, 10, MemfdConsts.SEEK_SET));
        Assert.Equal(15, K.Lseek(P, fd, 5, MemfdConsts.SEEK_CUR));
        Assert.Equal(90, K.Lseek(P, fd, -10, MemfdConsts.SEEK_END));
        Assert.Equal(E(Errno.EINVAL), K.Lseek(P, fd, 0, 3));
        Assert.Equal(E(Errno.EINVAL), K.Lseek(P, fd, -91, MemfdConsts.SEEK_CUR));
        Assert.Equal(90, K.Lseek(P, fd, 0, MemfdConsts.SEEK_CUR));       // failures leave the offset alone
        Assert.Equal(10, LuoSyscalls.ReadBytes(K, P, fd, 10, out var tail));
        Assert.Equal("0123456789"u8.ToArray(), tail);
    }

    [Fact]
    public void Mmap_rejects_zero_length_and_negative_or_unaligned_offsets()
    {
        int fd = Memfd();
        Assert.Equal(0, K.Ftruncate(P, fd, 2 * Page));
        ulong buf = UserBuf(Encoding.ASCII.GetBytes("page-one"));
        Assert.Equal(8, K.Pwrite(P, fd, buf, 8, Page));
        var rw = Prot.Read | Prot.Write;
        Assert.Equal(E(Errno.EINVAL), K.Mmap(P, 0, rw, MemfdConsts.MAP_SHARED, fd, 0));
        Assert.Equal(E(Errno.EINVAL), K.Mmap(P, Page, rw, MemfdConsts.MAP_SHARED, fd, 100));
        Assert.Equal(E(Errno.EINVAL), K.Mmap(P, Page, rw, MemfdConsts.MAP_SHARED, fd, -Page));
        Assert.Equal(1, P.FileOf(fd)!.RefCount);
        long a = K.Mmap(P, Page, rw, MemfdConsts.MAP_SHARED, fd, Page);
        Assert.True(a > 0, $"mmap at offset one page = {a}");
        Assert.Equal("page-one"u8.ToArray(), P.Memory.Peek((ulong)a, 8));
    }

    [Fact]
    public void Mmap_takes_one_file_reference_per_page_and_munmap_drops_them()
    {
        int fd = Memfd();
        Assert.Equal(0, K.Ftruncate(P, fd, 3 * Page));
        var f = P.FileOf(fd)!;
        int mapped = P.Memory.MappedPages;
        var rw = Prot.Read | Prot.Write;
        long a = K.Mmap(P, Page, rw, MemfdConsts.MAP_SHARED, fd, 0);
        Assert.Equal(2, f.RefCount);
        Assert.Equal(mapped + 1, P.Memory.MappedPages);
        long b = K.Mmap(P, Page + 904, rw, MemfdConsts.MAP_SHARED, fd, 0); // rounded up to two pages
        Assert.Equal(4, f.RefCount);
        Assert.Equal(mapped + 3, P.Memory.MappedPages);
        Assert.Equal(E(Errno.EINVAL), K.Munmap(P, (ulong)a, 0));
        Assert.Equal(E(Errno.EINVAL), K.Munmap(P, (ulong)a + 1, Page));
        Assert.Equal(4, f.RefCount);
        Assert.Equal(0, K.Munmap(P, (ulong)a, Page));
        Assert.Equal(3, f.RefCount);
        Assert.Equal(0, K.Munmap(P, (ulong)b, 2 * Page));
        Assert.Equal(1, f.RefCount);
        Assert.Equal(mapped, P.Memory.MappedPages);
    }
}
