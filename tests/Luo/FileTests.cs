using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>PRESERVE_FD / RETRIEVE_FD / FINISH errno order and close semantics (luo.md §3.6–§3.8, §3.10).</summary>
public class FileTests : LuoTestBase
{
    [Fact]
    public void Preserve_errno_order()
    {
        int dev = OpenDev();
        int s = Create(dev, "p");
        int m = Memfd("x");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.PreserveFd(K, P, s, 99, 1));     // duplicate token beats bad fd
        Assert.Equal(E(Errno.EBADF), LuoSyscalls.PreserveFd(K, P, s, 99, 2));
        int nul = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.PreserveFd(K, P, s, nul, 0xDEAD));  // C4
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.PreserveFd(K, P, s, s, 3));         // a session fd
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.PreserveFd(K, P, s, dev, 3));
        int path = (int)K.Open(P, "/dev/null", OpenFlags.O_PATH);
        Assert.Equal(E(Errno.EBADF), LuoSyscalls.PreserveFd(K, P, s, path, 3));
        int huge = (int)K.MemfdCreate(P, "h", MemfdConsts.MFD_HUGETLB);
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.PreserveFd(K, P, s, huge, 3));
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.PreserveFd(K, P, s, m, 3));          // same file, new token
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.PreserveFd(K, P, s, (int)K.Dup(P, m), 4));
        int s2 = Create(dev, "p2");
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.PreserveFd(K, P, s2, m, 1));         // other session, same token allowed
        Assert.Single(K.Luo.Outgoing.Sessions[0].Files);
        Assert.Equal(1, K.Luo.Outgoing.Sessions[0].FileBlocks!.BlockCount);
        Assert.Equal(0, K.Luo.Outgoing.Sessions[1].FileBlocks!.BlockCount);
    }

    [Fact]
    public void Double_preserve_none_variant_accepts()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { DoublePreserve = DoublePreserveCheck.None }, DramBytes = 1UL << 30 });
        P = K.CreateProcess();
        int dev = OpenDev();
        int s1 = Create(dev, "a"), s2 = Create(dev, "b");
        int m = Memfd();
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s1, m, 0x1111));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s2, m, 0x2222));
    }

    [Fact]
    public void Preserve_fault_points_roll_back_everything()
    {
        int dev = OpenDev();
        int s = Create(dev, "f");
        int m = Memfd("data");
        var before = K.Luo.Snapshot();
        foreach (var fp in new[] { FaultPoint.FileBlockGrow, FaultPoint.RegistryInsert, FaultPoint.FileRecordAlloc, FaultPoint.MemfdPreserveAlloc,
                     FaultPoint.MemfdFolioPreserve, FaultPoint.MemfdArrayAlloc, FaultPoint.MemfdVmallocPreserve })
        {
            K.Faults.FailNext(fp, Errno.ENOMEM);
            Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.PreserveFd(K, P, s, m, 1));
            Assert.Equal(before, K.Luo.Snapshot());
            Assert.Equal(0, K.Ftruncate(P, m, 4)); // size not frozen
        }
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
    }

    [Fact]
    public void Preserve_reply_fault_keeps_the_file_preserved()
    {
        int dev = OpenDev();
        int s = Create(dev, "rf");
        int m = Memfd();
        ulong a = UserBuf(FdStruct(m, 5), Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, s, LiveupdateUapi.PreserveFd, a));
        Assert.Single(K.Luo.Outgoing.Sessions[0].Files);
    }

    [Fact]
    public void Closing_the_memfd_keeps_preservation_and_session_close_unpreserves()
    {
        int dev = OpenDev();
        int s = Create(dev, "preserve-memfd-test");
        int m = Memfd("hello liveupdate");
        int m2 = Memfd();
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 0x1234));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m2, 0x5678));
        Assert.Equal(0, K.Close(P, m2)); // E3
        var inode2 = K.Luo.Outgoing.Sessions[0].Files[1].File as MemfdFile;
        Assert.False(inode2!.Released);
        int preservedBefore = K.Kho.PreservedBlocks().Count;
        Assert.Equal(0, K.Close(P, s)); // E2
        Assert.True(inode2.Released);
        Assert.True(K.Kho.PreservedBlocks().Count < preservedBefore);
        Assert.Equal(0, K.Lseek(P, m, 0, MemfdConsts.SEEK_SET));
        Assert.Equal(16, LuoSyscalls.ReadBytes(K, P, m, 64, out var d));
        Assert.Equal("hello liveupdate"u8.ToArray(), d);
        Assert.Equal(0, K.Ftruncate(P, m, 1)); // unfrozen again
        Assert.Empty(K.Luo.RegisteredFiles);
        // only root and FLB page remain preserved by LUO (§8 inv. 20)
        Assert.Equal(0, K.Luo.Outgoing.Blocks!.BlockCount);
    }

    [Fact]
    public void Preserve_many_files_grows_and_shrinks_blocks()
    {
        int dev = OpenDev();
        K.SetrlimitNofile(P, 600, 600);
        int s = Create(dev, "many-files-test");
        for (int i = 0; i < 130; i++)
        {
            int m = Memfd();
            Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, (ulong)i));
            K.Close(P, m);
        }
        Assert.Equal(3, K.Luo.Outgoing.Sessions[0].FileBlocks!.BlockCount);
        Assert.Equal(0, K.Close(P, s));
    }

    private (int dev, int s, int[] fds) IncomingWithTestFiles(int n, Action<TestFileHandler>? configure = null)
    {
        int dev = OpenDev();
        int s = Create(dev, "t");
        for (int i = 0; i < n; i++)
        {
            int f = (int)K.CreateTestFile(P, 0x100UL + (ulong)i, $"f{i}");
            Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, f, (ulong)i));
        }
        KexecNext();
        configure?.Invoke(K.TestHandler!);
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "t", out int s2));
        return (dev, s2, []);
    }

    [Fact]
    public void Finish_stops_at_first_refusal_then_finishes_backward()
    {
        var (_, s, _) = IncomingWithTestFiles(3);
        var h = K.TestHandler!;
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s, 1, out _));
        h.ClearLog();
        K.Faults.FailNth(FaultPoint.TestCanFinish, K.Faults.Count(FaultPoint.TestCanFinish) + 2, Errno.EBUSY);
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.Finish(K, P, s));
        Assert.Equal(new[] { TestOp.CanFinish, TestOp.CanFinish }, h.Log.Select(r => r.Op));
        Assert.Equal(3, K.Luo.Incoming.Sessions[0].Files.Count);
        h.ClearLog();
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s));
        Assert.Equal(new[] { "CanFinish:0", "CanFinish:1", "CanFinish:2", "Finish:2", "Finish:1", "Finish:0" },
            h.Log.Select(r => $"{r.Op}:{r.Token}"));
        Assert.Equal(new[] { 0, 1, 0 }, h.Log.Skip(3).Select(r => r.RetrieveStatus).Reverse());
    }

    [Fact]
    public void Close_with_refused_finish_leaks_the_session()
    {
        var (dev, s, _) = IncomingWithTestFiles(1, h => h.RefuseFinish = true);
        Assert.Equal(0, K.Close(P, s));
        Assert.Equal(SessionState.InLeaked, K.Luo.Incoming.Sessions[0].State);
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RetrieveSession(K, P, dev, "t", out _));
    }

    [Fact]
    public void Retrieve_failure_is_sticky_and_finish_sees_the_status()
    {
        var (_, s, _) = IncomingWithTestFiles(1);
        K.TestHandler!.Fail[TestOp.Retrieve] = Errno.EIO;
        Assert.Equal(E(Errno.EIO), LuoSyscalls.RetrieveFd(K, P, s, 0, out _));
        K.TestHandler.Fail.Clear();
        Assert.Equal(E(Errno.EIO), LuoSyscalls.RetrieveFd(K, P, s, 0, out _));
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveFd(K, P, s, 9, out _));
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s));
        Assert.Equal(-(int)Errno.EIO, K.TestHandler.Log[^1].RetrieveStatus);
    }

    [Fact]
    public void Retrieve_reply_fault_keeps_the_file_retrieved()
    {
        var (_, s, _) = IncomingWithTestFiles(1);
        ulong a = UserBuf(FdStruct(0, 0), Prot.Read);
        int fds = P.FdCount;
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, s, LiveupdateUapi.RetrieveFd, a));
        Assert.Equal(fds, P.FdCount);
        Assert.Equal(1, K.Luo.Incoming.Sessions[0].Files[0].RetrieveStatus);
        Assert.Single(K.Luo.RegisteredFiles);
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s, 0, out int fd));
        Assert.Equal(0x100UL, ((TestFile)P.FileOf(fd)!).Payload);
    }

    [Fact]
    public void Retrieve_session_reply_fault_finishes_the_session()
    {
        int dev = OpenDev();
        int s = Create(dev, "t");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 1), 0));
        KexecNext();
        dev = OpenDev();
        ulong a = UserBuf(SessionStruct("t"), Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, LiveupdateUapi.RetrieveSession, a));
        Assert.Equal(new[] { TestOp.CanFinish, TestOp.Finish }, K.TestHandler!.Log.Select(r => r.Op));
        Assert.Equal(0, K.TestHandler.Log[^1].RetrieveStatus); // un-retrieved file discarded
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveSession(K, P, dev, "t", out _));
        Assert.Equal(1, P.FdCount);
    }

    [Fact]
    public void Preserve_on_incoming_session_is_EINVAL()
    {
        var (_, s, _) = IncomingWithTestFiles(0);
        int m = Memfd();
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.PreserveFd(K, P, s, m, 1));
    }
}
