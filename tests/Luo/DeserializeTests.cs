using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Next-kernel reading (luo.md §5.7, §8 invariants 16, 17): panic for root/session chain errors,
/// EIO forever for per-session and per-file errors.</summary>
public class DeserializeTests : LuoTestBase
{
    private void RebootOnly() => Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));

    private int TwoSessionsWithTestFiles()
    {
        int dev = OpenDev();
        int s1 = Create(dev, "one");
        int s2 = Create(dev, "two");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s1, (int)K.CreateTestFile(P, 1), 1));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s2, (int)K.CreateTestFile(P, 2), 2));
        return dev;
    }

    [Fact]
    public void Bad_root_compatible_panics()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        K.Arena.Write(K.Luo.OutRootPhys, "luo-v4"u8);
        var next = K.Kexec();
        Assert.True(next.Panicked);
        Assert.Contains("compatible", next.Outcome.PanicReason, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => next.CreateProcess());
    }

    [Fact]
    public void Session_chain_with_a_bad_count_panics()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        K.Arena.WriteU64(K.Luo.Outgoing.Blocks!.Blocks[0] + 8, 52);
        Assert.True(K.Kexec().Panicked);
    }

    [Fact]
    public void Session_chain_cycle_panics()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        ulong b = K.Luo.Outgoing.Blocks!.Blocks[0];
        K.Arena.WriteU64(b, b);
        Assert.True(K.Kexec().Panicked);
    }

    [Fact]
    public void EEXIST_quirk_leaves_an_empty_block_and_the_next_boot_panics()
    {
        int dev = OpenDev();
        K.SetrlimitNofile(P, 100, 100);
        for (int i = 0; i < 51; i++) Create(dev, $"s{i}");
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.CreateSession(K, P, dev, "s3", out _));
        RebootOnly();
        var next = K.Kexec();
        Assert.True(next.Panicked);
    }

    [Fact]
    public void Disabled_liveupdate_still_reads_the_root_and_can_panic()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        K.Arena.Write(K.Luo.OutRootPhys, "bogus"u8);
        Assert.True(K.Kexec(K.Config with { Liveupdate = null }).Panicked);
    }

    private void AssertEioForever(Kernel.Kernel next)
    {
        Assert.False(next.Panicked);
        var p = next.CreateProcess();
        Assert.Equal(E(Errno.EIO), LuoSyscalls.OpenDevice(next, p));
        Assert.Equal(E(Errno.EIO), LuoSyscalls.OpenDevice(next, p));
        Assert.False(next.Luo.DeviceInUse);
        Assert.Equal(0, next.Luo.Incoming.Blocks!.BlockCount); // session blocks freed in every outcome
    }

    [Fact]
    public void Unknown_file_compatible_gives_EIO_forever()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        ulong fb = K.Luo.Outgoing.Sessions[1].FileBlocks!.Blocks[0];
        K.Arena.Write(fb + 16, "nope-v9\0"u8);
        var next = K.Kexec();
        AssertEioForever(next);
        Assert.Equal(Errno.ENOENT, next.Luo.SavedError);
        Assert.Equal(2, next.Luo.Incoming.Sessions.Count);
        Assert.Empty(next.Luo.Incoming.Sessions[1].Files);
    }

    [Fact]
    public void Missing_handler_in_the_next_kernel_gives_EIO()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        AssertEioForever(K.Kexec(K.Config with { RegisterTestHandler = false }));
    }

    [Fact]
    public void Duplicate_incoming_names_give_EEXIST_cached()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        ulong sb = K.Luo.Outgoing.Blocks!.Blocks[0];
        K.Arena.Write(sb + 16 + 80, "one\0"u8);
        var next = K.Kexec();
        AssertEioForever(next);
        Assert.Equal(Errno.EEXIST, next.Luo.SavedError);
        Assert.Single(next.Luo.Incoming.Sessions);
    }

    [Fact]
    public void File_count_mismatch_gives_EINVAL_cached()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        ulong sb = K.Luo.Outgoing.Blocks!.Blocks[0];
        K.Arena.WriteU64(sb + 16 + 72, 5);
        var next = K.Kexec();
        AssertEioForever(next);
        Assert.Equal(Errno.EINVAL, next.Luo.SavedError);
    }

    [Fact]
    public void Files_pointer_zero_with_count_is_only_a_warning()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        ulong sb = K.Luo.Outgoing.Blocks!.Blocks[0];
        K.Arena.WriteU64(sb + 16 + 64, 0);
        var next = K.Kexec();
        var p = next.CreateProcess();
        Assert.True(LuoSyscalls.OpenDevice(next, p) >= 0);
        Assert.Empty(next.Luo.Incoming.Sessions[0].Files);
    }

    [Fact]
    public void Deserialize_alloc_fault_is_cached()
    {
        TwoSessionsWithTestFiles();
        RebootOnly();
        var next = K.Kexec();
        next.Faults.FailNext(FaultPoint.DeserializeFileAlloc, Errno.ENOMEM);
        AssertEioForever(next);
        Assert.Equal(Errno.ENOMEM, next.Luo.SavedError);
    }

    [Fact]
    public void Incoming_and_outgoing_names_are_independent()
    {
        TwoSessionsWithTestFiles();
        KexecNext();
        int dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.CreateSession(K, P, dev, "one", out _));
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "one", out _));
    }
}
