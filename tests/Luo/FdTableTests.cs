using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>The fd table's dense array and its side table for high numbers behave as one table.</summary>
public sealed class FdTableTests : LuoTestBase
{
    [Fact]
    public void High_fd_numbers_from_dup2_and_F_DUPFD_are_ordered_closable_and_counted()
    {
        Assert.Equal(0, K.SetrlimitNofile(P, 300_000, 300_000));
        int fd = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(0, fd);
        Assert.Equal(150_000, K.Dup2(P, fd, 150_000));
        Assert.Equal(70_000, K.Dup2(P, fd, 70_000));
        Assert.Equal(100_000, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 100_000));
        Assert.Equal(100_001, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 100_000));
        Assert.Equal(1, K.Dup(P, fd));                         // the lowest free number is still found first
        Assert.Equal([0, 1, 70_000, 100_000, 100_001, 150_000], P.OpenFds);
        Assert.Equal(6, P.FdCount);
        Assert.Same(P.FileOf(0), P.FileOf(150_000));

        Assert.Equal(0, K.Close(P, 100_000));
        Assert.Equal(E(Errno.EBADF), K.Close(P, 100_000));
        Assert.Null(P.FileOf(100_000));
        Assert.Equal(99_999, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 99_999));
        Assert.Equal(100_000, K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 99_999));
        Assert.Equal(E(Errno.EBADF), K.Close(P, -1));
        Assert.Equal(E(Errno.EBADF), K.Dup2(P, 123_456, 5));
        Assert.Equal([0, 1, 70_000, 99_999, 100_000, 100_001, 150_000], P.OpenFds);
    }

    [Fact]
    public void Fork_copies_dense_and_sparse_entries()
    {
        Assert.Equal(0, K.SetrlimitNofile(P, 300_000, 300_000));
        int fd = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(200_000, K.Dup2(P, fd, 200_000));
        var child = K.Fork(P);
        Assert.Equal([0, 200_000], child.OpenFds);
        Assert.Same(P.FileOf(200_000), child.FileOf(200_000));
    }
}
