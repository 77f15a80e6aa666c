using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Stress shapes (scenarios.md H1–H4), memfd-v1, seals.</summary>
public class StressAndVariantTests : LuoTestBase
{
    [Fact]
    public void H3_2001_sessions_round_trip()
    {
        int dev = OpenDev();
        K.SetrlimitNofile(P, 2100, 2100);
        int st = Create(dev, "kexec_many_state");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, st, 999, "2"));
        for (int i = 0; i < 2000; i++) Create(dev, $"many-test-{i}");
        Assert.Equal(40, K.Luo.Outgoing.Blocks!.BlockCount); // ceil(2001/51)
        KexecNext();
        dev = OpenDev();
        Assert.Equal(2001, K.Luo.Incoming.Sessions.Count);
        for (int i = 0; i < 2000; i++)
        {
            Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, $"many-test-{i}", out int s));
            Assert.Equal(0, LuoSyscalls.Finish(K, P, s));
            Assert.Equal(0, K.Close(P, s));
        }
        Assert.Single(K.Luo.Incoming.Sessions);
    }

    [Fact]
    public void H4_500_files_round_trip()
    {
        int dev = OpenDev();
        int s = Create(dev, "many_files_session");
        for (int i = 0; i < 500; i++) Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, (ulong)i, $"file-data-{i}"));
        Assert.Equal(8, K.Luo.Outgoing.Sessions[0].FileBlocks!.BlockCount); // ceil(500/63)
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "many_files_session", out int s2));
        for (int i = 0; i < 500; i++)
        {
            long fd = LuoSyscalls.RestoreAndVerifyMemfd(K, P, s2, (ulong)i, $"file-data-{i}");
            Assert.True(fd >= 0, $"{i}: {fd}");
            K.Close(P, (int)fd);
        }
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s2));
        Assert.Equal(0, K.Luo.Incoming.Sessions[0].FileBlocks!.BlockCount);
    }

    [Fact]
    public void Memfd_v1_round_trip_has_no_seals_and_no_get_id()
    {
        var cfg = new KernelConfig { Luo = new LuoOptions { MemfdVersion = MemfdVersion.V1 }, DramBytes = 1UL << 30 };
        K = Kernel.Kernel.ColdBoot(cfg);
        P = K.CreateProcess();
        int dev = OpenDev();
        int s = Create(dev, "v1");
        int m = Memfd("v1 data");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.PreserveFd(K, P, s, (int)K.Dup(P, m), 2)); // no get_id: keyed by the file, a dup shares it
        Assert.Equal("memfd-v1", K.Luo.Outgoing.Sessions[0].Files[0].Handler.Compatible);
        ulong ser = K.Luo.Outgoing.Sessions[0].Files[0].SerializedData;
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "v1", out int s2));
        Assert.True(LuoSyscalls.RestoreAndVerifyMemfd(K, P, s2, 1, null) >= 0);
        Assert.NotEqual(0UL, ser);
    }

    [Fact]
    public void Seals_follow_linux_rules_and_survive_handover()
    {
        int m = (int)K.MemfdCreate(P, "s", MemfdConsts.MFD_ALLOW_SEALING);
        int plain = Memfd();
        Assert.Equal(Seals.F_SEAL_SEAL, K.Fcntl(P, plain, FcntlCmd.F_GET_SEALS));
        Assert.Equal(E(Errno.EPERM), K.Fcntl(P, plain, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_GROW));
        Assert.Equal(0, K.Fcntl(P, m, FcntlCmd.F_GET_SEALS));
        Assert.Equal(E(Errno.EINVAL), K.Fcntl(P, m, FcntlCmd.F_ADD_SEALS, 0x40));
        long addr = K.Mmap(P, 4096, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, m, 0);
        Assert.True(addr > 0);
        Assert.Equal(E(Errno.EBUSY), K.Fcntl(P, m, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_WRITE));
        Assert.Equal(0, K.Munmap(P, (ulong)addr, 4096));
        Assert.Equal(0, K.Fcntl(P, m, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_GROW | Seals.F_SEAL_SHRINK));
        Assert.Equal(E(Errno.EPERM), K.Ftruncate(P, m, 10));
        Assert.Equal(E(Errno.EINVAL), K.Fcntl(P, (int)K.Open(P, "/dev/null", 2), FcntlCmd.F_GET_SEALS));
        int dev = OpenDev();
        int s = Create(dev, "sealed");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "sealed", out int s2));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s2, 1, out int m2));
        Assert.Equal(Seals.F_SEAL_GROW | Seals.F_SEAL_SHRINK, K.Fcntl(P, m2, FcntlCmd.F_GET_SEALS));
    }

    [Fact]
    public void Preserved_memfd_write_inside_size_works_past_end_fails()
    {
        int dev = OpenDev();
        int s = Create(dev, "ops");
        int m = Memfd();
        Assert.Equal(0, K.Ftruncate(P, m, 4096));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 1));
        Assert.Equal(4, K.Pwrite(P, m, UserBuf("abcd"u8.ToArray()), 4, 100));
        Assert.Equal(E(Errno.EPERM), K.Pwrite(P, m, UserBuf("abcd"u8.ToArray()), 4, 4094));
        Assert.Equal(E(Errno.EPERM), K.Ftruncate(P, m, 0));
    }
}
