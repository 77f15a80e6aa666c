using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>
/// The optimised reboot, retrieve and fd paths (issue 5 §7): the benchmark-only thaw hook rewrites exactly the
/// bytes of a first serialization, a steady-state serialization allocates nothing, out-of-order session
/// retrieval and lowest-free fd numbering keep their semantics.
/// </summary>
public class SerializeHotPathTests : LuoTestBase
{
    private static readonly string[] Names = ["alpha", "beta", "gamma", "delta", "epsilon"];

    private void PreserveSessions(int sessions, int files)
    {
        int dev = OpenDev();
        for (int i = 0; i < sessions; i++)
        {
            int s = Create(dev, Names[i]);
            for (int j = 0; j < files; j++)
            {
                int m = Memfd($"{Names[i]}-{j}");
                Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, (ulong)((i * 16) + j + 1)));
                Assert.Equal(0, K.Close(P, m));
            }
        }
    }

    private Dictionary<ulong, byte[]> PresentPages() =>
        K.Arena.PresentPfns().ToDictionary(pfn => pfn, pfn => K.Arena.PageForRead(pfn).ToArray());

    private void Reboot() => Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));

    [Fact]
    public void Thaw_then_reboot_writes_the_same_bytes_and_the_round_trip_still_works()
    {
        PreserveSessions(3, 2);
        Reboot();
        var first = PresentPages();
        var snapshot = K.Luo.Snapshot();
        K.ThawAfterRebootForBench();
        Assert.Equal(KernelState.Running, K.State);
        Assert.False(K.Luo.IsFrozen);
        Reboot();
        var second = PresentPages();
        Assert.Equal(first.Keys.Order(), second.Keys.Order());
        foreach (var (pfn, bytes) in first) Assert.True(bytes.AsSpan().SequenceEqual(second[pfn]), $"page 0x{pfn:x} differs");
        Assert.Equal(snapshot, K.Luo.Snapshot());
        Assert.Equal(2, K.Luo.SerializeAttempts);

        K = K.Kexec();
        P = K.CreateProcess();
        int dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "beta", out int s));
        long fd = LuoSyscalls.RestoreAndVerifyMemfd(K, P, s, 16 + 2, "beta-1");
        Assert.True(fd >= 0, $"retrieve = {fd}");
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s));
    }

    [Fact]
    public void Thaw_needs_a_successful_reboot()
    {
        Assert.Throws<InvalidOperationException>(() => K.ThawAfterRebootForBench());
    }

    [Fact]
    public void Steady_state_serialize_allocates_nothing()
    {
        PreserveSessions(5, 3);
        for (int i = 0; i < 3; i++) // warm-up: first-use type loading, block pages, JIT
        {
            Reboot();
            K.ThawAfterRebootForBench();
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        long rc = K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, rc);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Sessions_retrieved_out_of_order_are_each_found_once()
    {
        PreserveSessions(5, 1);
        KexecNext();
        int dev = OpenDev();
        foreach (int i in new[] { 3, 1, 4, 0, 2 })
        {
            Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, Names[i], out int s));
            Assert.Equal(0, LuoSyscalls.GetName(K, P, s, out string name));
            Assert.Equal(Names[i], name);
        }
        foreach (string n in Names) Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RetrieveSession(K, P, dev, n, out _));
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveSession(K, P, dev, "zeta", out _));
    }

    [Fact]
    public void Fd_numbers_are_the_lowest_free_after_closes_and_failures()
    {
        int[] fds = [.. Enumerable.Range(0, 5).Select(_ => (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR))];
        Assert.Equal([0, 1, 2, 3, 4], fds);
        Assert.Equal(0, K.Close(P, 3));
        Assert.Equal(0, K.Close(P, 1));
        Assert.Equal(E(Errno.ENOENT), K.Open(P, "/nonexistent", OpenFlags.O_RDWR)); // reserved, then released
        Assert.Equal(1, K.Open(P, "/dev/null", OpenFlags.O_RDWR));
        Assert.Equal(5, K.Fcntl(P, 0, FcntlCmd.F_DUPFD, 4)); // lowest free ≥ 4
        Assert.Equal(3, K.Open(P, "/dev/null", OpenFlags.O_RDWR));
        Assert.Equal(6, K.Open(P, "/dev/null", OpenFlags.O_RDWR));
        Assert.Equal(0, K.Close(P, 0));
        Assert.Equal(0, K.MemfdCreate(P, "m", 0));
        Assert.Equal(0, K.SetrlimitNofile(P, 7, P.NofileHard));
        Assert.Equal(E(Errno.EMFILE), K.Open(P, "/dev/null", OpenFlags.O_RDWR));
        Assert.Equal(0, K.Close(P, 2));
        Assert.Equal(2, K.Open(P, "/dev/null", OpenFlags.O_RDWR));
    }
}
