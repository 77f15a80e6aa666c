using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;
using FdtLib = LuoModel.Fdt.Fdt;

namespace LuoModel.Tests.Luo;

/// <summary>The FDT-era ABI "luo-v1" (luo.md §5.8, §7.5): fixed arrays, root FDT, kho_finalize.</summary>
public class FdtAbiTests : LuoTestBase
{
    private static KernelConfig Fdt() => new() { Luo = new LuoOptions { Abi = LuoAbi.FdtV1 }, DramBytes = 1UL << 30 };

    public FdtAbiTests() : base(Fdt()) { }

    [Fact]
    public void Session_limit_819_is_ENOMEM()
    {
        int dev = OpenDev();
        K.SetrlimitNofile(P, 1000, 1000);
        for (int i = 0; i < 819; i++) Create(dev, $"s{i}");
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.CreateSession(K, P, dev, "s819", out _));
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.CreateSession(K, P, dev, "s0", out _)); // limit before EEXIST
    }

    [Fact]
    public void File_limit_128_is_ENOSPC_before_EBADF()
    {
        int dev = OpenDev();
        K.SetrlimitNofile(P, 300, 300);
        int s = Create(dev, "f");
        for (int i = 0; i < 128; i++)
        {
            int m = Memfd();
            Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, (ulong)i));
            K.Close(P, m);
        }
        Assert.Equal(E(Errno.ENOSPC), LuoSyscalls.PreserveFd(K, P, s, 999, 500));
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.PreserveFd(K, P, s, 999, 5));
    }

    [Fact]
    public void Root_fdt_matches_5_8_and_round_trip_works()
    {
        int dev = OpenDev();
        int s = Create(dev, "fdt-session");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 0x42, "via luo-v1"));
        Create(dev, "empty");
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.True(K.Kho.Finalized);

        byte[] fdt = K.Arena.PageForRead(K.Luo.OutRootPhys >> 12).ToArray();
        Assert.Equal(0, FdtLib.CheckHeader(fdt));
        Assert.Equal(0, FdtLib.NodeCheckCompatible(fdt, 0, "luo-v1"));
        Assert.True(FdtLib.GetProp(fdt, 0, "liveupdate-number", out var num) >= 0);
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0 }, num.ToArray());
        int sn = FdtLib.SubnodeOffset(fdt, 0, "luo-session");
        Assert.Equal(0, FdtLib.NodeCheckCompatible(fdt, sn, "luo-session-v2"));
        FdtLib.GetProp(fdt, sn, "luo-session-header", out var sh);
        ulong area = BinaryPrimitives.ReadUInt64LittleEndian(sh);
        Assert.Equal(K.Luo.FdtSessionArea, area);
        int fn = FdtLib.SubnodeOffset(fdt, 0, "luo-flb");
        Assert.Equal(0, FdtLib.NodeCheckCompatible(fdt, fn, "luo-flb-v1"));
        FdtLib.GetProp(fdt, fn, "luo-flb-header", out var fh);
        Assert.Equal(K.Luo.OutFlbPhys, BinaryPrimitives.ReadUInt64LittleEndian(fh));

        // session area: count @0, 80-byte entries @8; file area: 64-byte entries
        Assert.Equal(2UL, K.Arena.ReadU64(area));
        var e0 = new byte[80];
        K.Arena.Read(area + 8, e0);
        Assert.Equal("fdt-session"u8.ToArray(), e0.AsSpan(0, 11).ToArray());
        ulong files = BinaryPrimitives.ReadUInt64LittleEndian(e0.AsSpan(64));
        Assert.Equal(K.Luo.Outgoing.Sessions[0].FdtFileArea, files);
        Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(e0.AsSpan(72)));
        var fe = new byte[64];
        K.Arena.Read(files, fe);
        Assert.Equal("memfd-v2\0"u8.ToArray(), fe.AsSpan(0, 9).ToArray());
        Assert.Equal(0x42UL, BinaryPrimitives.ReadUInt64LittleEndian(fe.AsSpan(56)));
        var e1 = new byte[80];
        K.Arena.Read(area + 88, e1);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(e1.AsSpan(64)));

        K = K.Kexec();
        Assert.False(K.Panicked, K.Outcome.PanicReason);
        P = K.CreateProcess();
        Assert.Equal(1UL, K.Luo.LiveupdateNum);
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "fdt-session", out int s2));
        Assert.True(LuoSyscalls.RestoreAndVerifyMemfd(K, P, s2, 0x42, "via luo-v1") >= 0);
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s2));
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "empty", out _));
    }

    [Fact]
    public void Kho_finalize_failure_is_EAGAIN_and_files_stay_frozen()
    {
        int dev = OpenDev();
        int s = Create(dev, "t");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 9), 1));
        K.Faults.FailNext(FaultPoint.KhoFinalize, Errno.ENOMEM);
        Assert.Equal(E(Errno.EAGAIN), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(new[] { TestOp.Preserve, TestOp.Freeze }, K.TestHandler!.Log.Select(r => r.Op));
        Assert.False(K.Luo.IsFrozen);
        Assert.Equal(KernelState.Running, K.State);
    }

    [Fact]
    public void Corrupt_fdt_root_panics()
    {
        OpenDev();
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        byte[] fdt = K.Arena.PageForRead(K.Luo.OutRootPhys >> 12).ToArray();
        int off = fdt.AsSpan().IndexOf("luo-v1"u8);
        K.Arena.Write(K.Luo.OutRootPhys + (ulong)off, "luo-v9"u8);
        Assert.True(K.Kexec().Panicked);
    }
}
