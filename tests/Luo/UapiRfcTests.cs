using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;
using Rfc = LuoModel.Kernel.LiveupdateUapiRfc;

namespace LuoModel.Tests.Luo;

/// <summary>The RFC uAPI (luo.md §7.2): command encodings, fixed-size copies, kernel tokens, the NORMAL /
/// PREPARED / FROZEN / UPDATED machine and a preserve → prepare → freeze → kexec → restore → finish run.</summary>
public sealed class UapiRfcTests : LuoTestBase
{
    private static KernelConfig Config(LuoAbi abi = LuoAbi.LuoV5) =>
        new() { DramBytes = 1UL << 28, RegisterTestHandler = true, Luo = new LuoOptions { Uapi = LuoUapi.Rfc, Abi = abi } };

    public UapiRfcTests() : base(Config()) { }

    private static uint Ioc(uint dir, uint nr, uint size) => (dir << 30) | (size << 16) | (0xBAu << 8) | nr;

    private uint State(int dev)
    {
        Assert.Equal(0, LuoSyscallsV4.RfcGetState(K, P, dev, out uint s));
        return s;
    }

    private long Ev(int dev, uint cmd) => LuoSyscallsV4.RfcEvent(K, P, dev, cmd);

    private static byte[] Pattern(int seed)
    {
        var b = new byte[UserMemory.PageSize];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void Command_values_are_the_ioc_encodings()
    {
        Assert.Equal(Rfc.FdPreserve, Ioc(3, 0, 16));
        Assert.Equal(Rfc.FdUnpreserve, Ioc(1, 1, 8));
        Assert.Equal(Rfc.FdRestore, Ioc(3, 2, 16));
        Assert.Equal(Rfc.GetState, Ioc(2, 3, 4));
        Assert.Equal([0xBA04u, 0xBA05u, 0xBA06u, 0xBA07u], new[] { Rfc.EventPrepare, Rfc.EventFreeze, Rfc.EventCancel, Rfc.EventFinish });
        Assert.Equal(Rfc.Selftests, Ioc(3, 8, 16));
        Assert.Equal([0u, 1u, 2u, 3u], new[] { LiveupdateState.Normal, LiveupdateState.Prepared, LiveupdateState.Frozen, LiveupdateState.Updated }.Select(Rfc.Wire));
    }

    [Fact]
    public void Unknown_and_simplified_commands_are_enotty_and_copies_fault()
    {
        int dev = OpenDev();
        ulong a = UserBuf(new byte[16]);
        foreach (uint cmd in new uint[] { 0xBA00, 0xBA01, 0xBA03, 0xBA08, 0xBA40, Rfc.Selftests, 0x8008BA03, 0xC010BB00 })
            Assert.Equal(E(Errno.ENOTTY), K.Ioctl(P, dev, cmd, a));
        Assert.Equal(E(Errno.ENOTTY), LuoSyscalls.CreateSession(K, P, dev, "x", out _));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, Rfc.GetState, 0x10));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, Rfc.FdPreserve, 0x10));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, Rfc.FdUnpreserve, 0x10));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, Rfc.FdRestore, 0x10));
        Assert.Equal(0, K.Ioctl(P, dev, Rfc.EventPrepare, 0x10));                    // _IO: the argument is not used
    }

    [Fact]
    public void Preserve_returns_kernel_tokens_and_checks_flags_and_state()
    {
        int dev = OpenDev();
        int m1 = MemfdWith(Pattern(1)), m2 = MemfdWith(Pattern(2));
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, m1, out ulong t1));
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, m2, out ulong t2));
        Assert.Equal((1UL, 2UL), (t1, t2));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RfcPreserve(K, P, dev, m1, out _));   // same file again
        Assert.Equal(E(Errno.EBADF), LuoSyscallsV4.RfcPreserve(K, P, dev, 77, out _));
        var b = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(b, m1);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 1);
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, dev, Rfc.FdPreserve, b));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RfcRestore(K, P, dev, t1, out _));  // not UPDATED
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.RfcUnpreserve(K, P, dev, 9));
        Assert.Equal(0, LuoSyscallsV4.RfcUnpreserve(K, P, dev, t2));
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, m2, out ulong t3));
        Assert.Equal(3UL, t3);                                                            // tokens are not reused
        Assert.Equal(0, Ev(dev, Rfc.EventPrepare));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RfcUnpreserve(K, P, dev, t1));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RfcPreserve(K, P, dev, MemfdWith(Pattern(3)), out _));
    }

    public static TheoryData<LiveupdateState, uint, Errno, LiveupdateState> Transitions => new()
    {
        { LiveupdateState.Normal, Rfc.EventPrepare, Errno.Ok, LiveupdateState.Prepared },
        { LiveupdateState.Normal, Rfc.EventFreeze, Errno.EINVAL, LiveupdateState.Normal },
        { LiveupdateState.Normal, Rfc.EventCancel, Errno.EINVAL, LiveupdateState.Normal },
        { LiveupdateState.Normal, Rfc.EventFinish, Errno.EINVAL, LiveupdateState.Normal },
        { LiveupdateState.Prepared, Rfc.EventPrepare, Errno.EINVAL, LiveupdateState.Prepared },
        { LiveupdateState.Prepared, Rfc.EventFreeze, Errno.Ok, LiveupdateState.Frozen },
        { LiveupdateState.Prepared, Rfc.EventCancel, Errno.Ok, LiveupdateState.Normal },
        { LiveupdateState.Prepared, Rfc.EventFinish, Errno.EINVAL, LiveupdateState.Prepared },
        { LiveupdateState.Frozen, Rfc.EventPrepare, Errno.EINVAL, LiveupdateState.Frozen },
        { LiveupdateState.Frozen, Rfc.EventFreeze, Errno.EINVAL, LiveupdateState.Frozen },
        { LiveupdateState.Frozen, Rfc.EventCancel, Errno.Ok, LiveupdateState.Normal },
        { LiveupdateState.Frozen, Rfc.EventFinish, Errno.EINVAL, LiveupdateState.Frozen },
        { LiveupdateState.Updated, Rfc.EventPrepare, Errno.EINVAL, LiveupdateState.Updated },
        { LiveupdateState.Updated, Rfc.EventFreeze, Errno.EINVAL, LiveupdateState.Updated },
        { LiveupdateState.Updated, Rfc.EventCancel, Errno.EINVAL, LiveupdateState.Updated },
        { LiveupdateState.Updated, Rfc.EventFinish, Errno.Ok, LiveupdateState.Normal },
    };

    private int Reach(LiveupdateState st)
    {
        int dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, (int)K.CreateTestFile(P, 4), out _));
        if (st == LiveupdateState.Normal) return dev;
        Assert.Equal(0, Ev(dev, Rfc.EventPrepare));
        if (st == LiveupdateState.Prepared) return dev;
        if (st == LiveupdateState.Frozen) { Assert.Equal(0, Ev(dev, Rfc.EventFreeze)); return dev; }
        KexecNext(Config());
        return OpenDev();
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Event_in_each_state(LiveupdateState from, uint cmd, Errno expected, LiveupdateState to)
    {
        int dev = Reach(from);
        Assert.Equal(Rfc.Wire(from), State(dev));
        Assert.Equal(E(expected), Ev(dev, cmd));
        Assert.Equal(Rfc.Wire(to), State(dev));
    }

    [Theory]
    [InlineData(LiveupdateState.Normal, false)]
    [InlineData(LiveupdateState.Prepared, true)]
    [InlineData(LiveupdateState.Frozen, true)]
    public void Reboot_hands_over_from_prepared_or_frozen(LiveupdateState from, bool handover)
    {
        Reach(from);
        KexecNext(Config());
        int dev = OpenDev();
        Assert.Equal(Rfc.Wire(handover ? LiveupdateState.Updated : LiveupdateState.Normal), State(dev));
        Assert.Equal(handover ? 0 : E(Errno.EBUSY), LuoSyscallsV4.RfcRestore(K, P, dev, 1, out _));
    }

    [Theory]
    [InlineData(LuoAbi.LuoV5)]
    [InlineData(LuoAbi.FdtV1)]
    public void Preserve_prepare_freeze_kexec_restore_finish_keeps_memfd_bytes(LuoAbi abi)
    {
        K = Kernel.Kernel.ColdBoot(Config(abi));
        P = K.CreateProcess();
        int dev = OpenDev();
        byte[] a = Pattern(11), b = Pattern(12);
        int ma = MemfdWith(a), mb = MemfdWith(b);
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, ma, out ulong ta));
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, mb, out ulong tb));
        K.Close(P, ma);
        K.Close(P, mb);
        Assert.Equal(0, Ev(dev, Rfc.EventPrepare));
        Assert.Equal(0, Ev(dev, Rfc.EventFreeze));
        KexecNext(Config(abi));
        dev = OpenDev();
        Assert.Equal(Rfc.Wire(LiveupdateState.Updated), State(dev));
        Assert.True(LuoSyscallsV4.RfcRestoreAndVerifyMemfd(K, P, dev, tb, b) >= 0);
        Assert.True(LuoSyscallsV4.RfcRestoreAndVerifyMemfd(K, P, dev, ta, a) >= 0);
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.RfcRestore(K, P, dev, 3, out _));
        Assert.Equal(0, Ev(dev, Rfc.EventFinish));
        Assert.Equal(Rfc.Wire(LiveupdateState.Normal), State(dev));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RfcRestore(K, P, dev, ta, out _));
        Assert.Empty(K.Luo.Incoming.Sessions);
    }

    [Fact]
    public void Cancel_from_frozen_restores_the_prepared_state()
    {
        int dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, MemfdWith(Pattern(5)), out _));
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, (int)K.CreateTestFile(P, 8), out _));
        var before = K.Luo.Snapshot();
        K.TestHandler!.ClearLog();
        Assert.Equal(0, Ev(dev, Rfc.EventPrepare));
        Assert.Equal(0, Ev(dev, Rfc.EventFreeze));
        Assert.Equal(0, Ev(dev, Rfc.EventCancel));
        Assert.Equal(before, K.Luo.Snapshot());
        Assert.Equal([TestOp.Freeze, TestOp.Unfreeze], K.TestHandler.Log.Select(r => r.Op));
        Assert.Equal(0, LuoSyscallsV4.RfcUnpreserve(K, P, dev, 2));
    }
}
