using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Reboot serialization failure and rollback (luo.md §4.2–§4.4, §8 invariants 11, 12, 14).</summary>
public class RollbackTests : LuoTestBase
{
    private const int Sessions = 3, Files = 3;

    private int _memfd;

    private void Setup()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { DramBytes = 1UL << 30 });
        P = K.CreateProcess();
        int dev = OpenDev();
        int mem = Create(dev, "mem");
        _memfd = Memfd("memfd bytes that must survive");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, mem, _memfd, 0xAA));
        for (int k = 0; k < Sessions; k++)
        {
            int s = Create(dev, $"s{k}");
            for (int j = 0; j < Files; j++)
            {
                int f = (int)K.CreateTestFile(P, (ulong)(0x1000 * (k + 1) + j), $"{k}.{j}");
                Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, f, (ulong)(10 * k + j)));
            }
        }
    }

    private byte[] HandoverBytes()
    {
        var list = new List<byte>();
        list.AddRange(K.Arena.PageForRead(K.Luo.OutRootPhys >> 12).ToArray().AsSpan(0, 32).ToArray());
        foreach (var b in K.Luo.Outgoing.Blocks!.Blocks) list.AddRange(K.Arena.PageForRead(b >> 12).ToArray());
        foreach (var s in K.Luo.Outgoing.Sessions)
            foreach (var b in s.FileBlocks!.Blocks) list.AddRange(K.Arena.PageForRead(b >> 12).ToArray());
        list.AddRange(K.Arena.PageForRead(K.Luo.OutFlbPhys >> 12).ToArray());
        return [.. list];
    }

    private byte[] MemfdBytes()
    {
        K.Lseek(P, _memfd, 0, MemfdConsts.SEEK_SET);
        LuoSyscalls.ReadBytes(K, P, _memfd, 100, out var d);
        return d;
    }

    [Fact]
    public void Freeze_failure_at_every_point_rolls_back_exactly()
    {
        Setup();
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        byte[] golden = HandoverBytes();

        for (int fk = 0; fk < Sessions; fk++)
            for (int fj = 0; fj < Files; fj++)
            {
                Setup();
                var before = K.Luo.Snapshot();
                byte[] mem = MemfdBytes();
                var h = K.TestHandler!;
                ((TestFile)K.Luo.Outgoing.Sessions[fk + 1].Files[fj].File!).FailFreeze = Errno.EIO;
                Assert.Equal(E(Errno.EIO), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
                Assert.Equal(KernelState.Running, K.State);
                Assert.Equal(before, K.Luo.Snapshot());
                Assert.Equal(mem, MemfdBytes());
                Assert.Equal(0UL, K.Luo.OutSessionsPa);

                var expectFreeze = new List<string>();
                for (int k = 0; k < Sessions; k++)
                    for (int j = 0; j < Files; j++)
                        if (k < fk || (k == fk && j <= fj)) expectFreeze.Add($"{k}.{j}");
                Assert.Equal(expectFreeze, h.Log.Where(r => r.Op == TestOp.Freeze).Select(r => r.Tag));
                var expectUnfreeze = new List<string>();
                for (int j = 0; j < fj; j++) expectUnfreeze.Add($"{fk}.{j}");
                for (int k = fk - 1; k >= 0; k--)
                    for (int j = 0; j < Files; j++) expectUnfreeze.Add($"{k}.{j}");
                Assert.Equal(expectUnfreeze, h.Log.Where(r => r.Op == TestOp.Unfreeze).Select(r => r.Tag));

                // session entry names and file_set_ser zeroed; file blocks cleared
                ulong blk = K.Luo.Outgoing.Blocks!.Blocks[0];
                var page = K.Arena.PageForRead(blk >> 12).ToArray();
                Assert.All(page.AsSpan(16).ToArray(), b => Assert.Equal(0, b));
                Assert.Equal((ulong)(fk + 2), BitConverter.ToUInt64(page, 8)); // reservation counts stay (§4.4 step 4)
                foreach (var s in K.Luo.Outgoing.Sessions)
                    foreach (var b in s.FileBlocks!.Blocks)
                        Assert.All(K.Arena.PageForRead(b >> 12).ToArray().AsSpan(8).ToArray(), x => Assert.Equal(0, x));

                ((TestFile)K.Luo.Outgoing.Sessions[fk + 1].Files[fj].File!).FailFreeze = Errno.Ok;
                Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
                Assert.Equal(golden, HandoverBytes());
            }
    }

    [Fact]
    public void Reservation_failure_rolls_back_and_frozen_afterwards()
    {
        Setup();
        var before = K.Luo.Snapshot();
        K.Faults.FailNth(FaultPoint.SessionReserveEntry, K.Faults.Count(FaultPoint.SessionReserveEntry) + 3, Errno.ENOSPC);
        Assert.Equal(E(Errno.ENOSPC), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(before, K.Luo.Snapshot());
        Assert.Equal(new[] { "0.0", "0.1", "0.2" }, K.TestHandler!.Log.Where(r => r.Op == TestOp.Unfreeze).Select(r => r.Tag)); // sessions mem, s0 rolled back
        // retry succeeds, then every session operation is frozen
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(KernelState.Rebooting, K.State);
        Assert.True(K.Luo.IsFrozen);
        int s = P.OpenFds.First(fd => P.FileOf(fd) is SessionFile);
        Assert.Equal(E(Errno.Frozen), LuoSyscalls.PreserveFd(K, P, s, _memfd, 77));
        Assert.Equal(E(Errno.Frozen), K.Close(P, s));
    }

    [Fact]
    public void N_keeps_the_post_freeze_serialized_data_after_rollback()
    {
        Setup();
        K.TestHandler!.FreezeXor = 0xF0F0;
        ((TestFile)K.Luo.Outgoing.Sessions[2].Files[0].File!).FailFreeze = Errno.EIO;
        Assert.Equal(E(Errno.EIO), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(new ulong[] { 0x1000 ^ 0xF0F0, 0x1001 ^ 0xF0F0, 0x1002 ^ 0xF0F0 }, K.Luo.Outgoing.Sessions[1].Files.Select(f => f.SerializedData));
        Assert.Equal(0x2000UL, K.Luo.Outgoing.Sessions[2].Files[0].SerializedData);
    }

    [Fact]
    public void Unfreeze_zeroes_data_variant()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { UnfreezeZeroesData = true }, DramBytes = 1UL << 30 });
        P = K.CreateProcess();
        int dev = OpenDev();
        int s = Create(dev, "z");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 5), 1));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 6), 2));
        K.TestHandler!.Fail[TestOp.Freeze] = Errno.EINVAL;
        K.Faults.FailNth(FaultPoint.TestFreeze, 2, Errno.EINVAL);
        K.TestHandler.Fail.Clear();
        Assert.Equal(E(Errno.EINVAL), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(0UL, K.Luo.Outgoing.Sessions[0].Files[0].SerializedData);
        Assert.Equal(6UL, K.Luo.Outgoing.Sessions[0].Files[1].SerializedData);
    }
}
