using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>The fd table's dense array and its side table for numbers at or above 2^20 (only reachable with a
/// raised fs.nr_open) behave as one table.</summary>
public sealed class FdTableTests() : LuoTestBase(new KernelConfig { DramBytes = 1UL << 30, NrOpen = 1UL << 22 })
{
    [Fact]
    public void High_fd_numbers_from_dup2_and_F_DUPFD_are_ordered_closable_and_counted()
    {
        Assert.Equal(0, K.SetrlimitNofile(P, 3_000_000, 3_000_000));
        int fd = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(0, fd);
        Assert.Equal(1_500_000, K.Dup2(P, fd, 1_500_000));
        Assert.Equal(70_000, K.Dup2(P, fd, 70_000));
        Assert.Equal(1_000_000, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 1_000_000));
        Assert.Equal(1_000_001, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 1_000_000));
        Assert.Equal(1, K.Dup(P, fd));                         // the lowest free number is still found first
        Assert.Equal([0, 1, 70_000, 1_000_000, 1_000_001, 1_500_000], P.OpenFds); // dense and sparse, in order
        Assert.Equal(6, P.FdCount);
        Assert.Same(P.FileOf(0), P.FileOf(1_500_000));

        Assert.Equal(0, K.Close(P, 1_000_000));
        Assert.Equal(E(Errno.EBADF), K.Close(P, 1_000_000));
        Assert.Null(P.FileOf(1_000_000));
        Assert.Equal(999_999, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 999_999));
        Assert.Equal(1_000_000, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 999_999));
        Assert.Equal(E(Errno.EBADF), K.Close(P, -1));
        Assert.Equal(E(Errno.EBADF), K.Dup2(P, 123_456, 5));
        Assert.Equal([0, 1, 70_000, 999_999, 1_000_000, 1_000_001, 1_500_000], P.OpenFds);
    }

    [Fact]
    public void Fork_copies_dense_and_sparse_entries()
    {
        Assert.Equal(0, K.SetrlimitNofile(P, 3_000_000, 3_000_000));
        int fd = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(2_000_000, K.Dup2(P, fd, 2_000_000));
        var child = K.Fork(P);
        Assert.Equal([0, 2_000_000], child.OpenFds);
        Assert.Same(P.FileOf(2_000_000), child.FileOf(2_000_000));
    }

    [Fact]
    public void Default_nr_open_bounds_fd_numbers_at_2_pow_20()
    {
        var k = Kernel.Kernel.ColdBoot(new KernelConfig { DramBytes = 1UL << 30 });
        var p = k.CreateProcess();
        Assert.Equal(E(Errno.EPERM), k.SetrlimitNofile(p, (1UL << 20) + 1, (1UL << 20) + 1));
        Assert.Equal(0, k.SetrlimitNofile(p, 1UL << 20, 1UL << 20));
        int fd = (int)k.Open(p, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal((1 << 20) - 1, k.Dup2(p, fd, (1 << 20) - 1));
        Assert.Equal(E(Errno.EBADF), k.Dup2(p, fd, 1 << 20));
        Assert.Equal([0, (1 << 20) - 1], p.OpenFds);
    }
}
