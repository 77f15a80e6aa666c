using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;
using V4 = LuoModel.Kernel.LiveupdateUapiV4;

namespace LuoModel.Tests.Luo;

/// <summary>The v4 uAPI (luo.md §7.3): command table, dispatch, global and per-session state machines,
/// prepare → reboot → finish across a model kexec, cancel rollback.</summary>
public sealed class UapiV4Tests : LuoTestBase
{
    private static KernelConfig Config(LuoAbi abi = LuoAbi.LuoV5) =>
        new() { DramBytes = 1UL << 28, RegisterTestHandler = true, Luo = new LuoOptions { Uapi = LuoUapi.V4, Abi = abi } };

    public UapiV4Tests() : base(Config()) { }

    private long Event(int dev, uint ev) => LuoSyscallsV4.SetEvent(K, P, dev, ev);

    private uint GlobalState(int dev)
    {
        Assert.Equal(0, LuoSyscallsV4.GetState(K, P, dev, out uint s));
        return s;
    }

    private uint SessionState(int sfd)
    {
        Assert.Equal(0, LuoSyscallsV4.SessionGetState(K, P, sfd, out uint s));
        return s;
    }

    private int V4Create(int dev, string name)
    {
        Assert.Equal(0, LuoSyscallsV4.CreateSession(K, P, dev, name, out int fd));
        return fd;
    }

    private static byte[] Pattern(int seed)
    {
        var b = new byte[UserMemory.PageSize];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void Command_numbers_and_struct_sizes_are_those_of_the_v4_series()
    {
        Assert.Equal([0xBA00u, 0xBA01u, 0xBA02u, 0xBA03u], new[] { V4.GetState, V4.SetEvent, V4.CreateSession, V4.RetrieveSession });
        Assert.Equal([0xBA40u, 0xBA41u, 0xBA42u, 0xBA43u, 0xBA44u], new[] { V4.PreserveFd, V4.UnpreserveFd, V4.RestoreFd, V4.SessionGetState, V4.SessionSetEvent });
        Assert.Equal([8, 64, 72, 16, 12, 56], new[] { V4.StateStructSize, V4.CreateStructSize, V4.RetrieveStructSize, V4.FdStructSize, V4.SessionStateStructSize, V4.NameLength });
        Assert.Equal([1u, 2u, 3u, 4u], new[] { V4.StateNormal, V4.StatePrepared, V4.StateFrozen, V4.StateUpdated });
    }

    [Fact]
    public void Dispatch_order_is_range_efault_enotty_size_e2big()
    {
        int dev = OpenDev();
        ulong a = UserBuf(new byte[16]);
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, dev, 0xBA04, a));                       // nr ≥ 4
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, dev, 0xBA40, a));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, V4.GetState, 0x10));              // size unreadable
        Assert.Equal(E(Errno.ENOTTY), K.Ioctl(P, dev, 0x8008BA00, a));                  // size/direction bits
        var small = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(small, 7);
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, dev, V4.GetState, small));
        var big = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(big, 16);
        big[12] = 1;
        Assert.Equal(E(Errno.E2BIG), LuoSyscalls.RawIoctl(K, P, dev, V4.GetState, big));
        big[12] = 0;
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, dev, V4.GetState, big));
        Assert.Equal(V4.StateNormal, BinaryPrimitives.ReadUInt32LittleEndian(big.AsSpan(4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(big.AsSpan(8)));             // reply is 8 bytes

        int s = V4Create(dev, "a");
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA45, a));
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA3F, a));
        Assert.Equal(E(Errno.ENOTTY), K.Ioctl(P, s, 0x400CBA43, a));
        var st = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(st, 11);
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, s, V4.SessionGetState, st)); // min 12
        BinaryPrimitives.WriteUInt32LittleEndian(st, 12);
        st[6] = 1;
        Assert.Equal(E(Errno.EOPNOTSUPP), LuoSyscalls.RawIoctl(K, P, s, V4.SessionGetState, st)); // reserved
        st[6] = 0;
        st[4] = 1;                                                                          // incoming byte: not looked at
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, s, V4.SessionGetState, st));
        Assert.Equal(V4.StateNormal, BinaryPrimitives.ReadUInt32LittleEndian(st.AsSpan(8)));
    }

    [Fact]
    public void Simplified_commands_under_v4_fail_and_v4_commands_under_simplified_fail()
    {
        int dev = OpenDev();
        // mainline CREATE_SESSION (0xBA00, 72 bytes, name at 8) lands on GET_STATE: the name is in the tail → E2BIG
        Assert.Equal(E(Errno.E2BIG), LuoSyscalls.CreateSession(K, P, dev, "abc", out _));
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, dev, 0xBA02, new byte[72]));    // size 0 < 64
        Assert.Equal(E(Errno.ENOTTY), LuoSyscallsV4.RfcPreserve(K, P, dev, 0, out _));           // rfc numbers: ENOTTY
        Assert.Equal(E(Errno.EINVAL), LuoSyscallsV4.RfcEvent(K, P, dev, LiveupdateUapiRfc.EventPrepare)); // nr 4 out of range

        var m = Kernel.Kernel.ColdBoot(new KernelConfig { DramBytes = 1UL << 28 });
        var mp = m.CreateProcess();
        int mdev = (int)LuoSyscalls.OpenDevice(m, mp);
        Assert.Equal(E(Errno.EINVAL), LuoSyscallsV4.CreateSession(m, mp, mdev, "x", out _));   // nr 2 out of range
        Assert.Equal(E(Errno.EINVAL), LuoSyscallsV4.GetState(m, mp, mdev, out _));              // CREATE_SESSION, size 8 < 72
        Assert.Equal(E(Errno.ENOTTY), LuoSyscallsV4.RfcPreserve(m, mp, mdev, 0, out _));
        Assert.Equal(0, LuoSyscalls.CreateSession(m, mp, mdev, "x", out int ms));
        Assert.Equal(E(Errno.EINVAL), LuoSyscallsV4.SessionSetEvent(m, mp, ms, V4.EventPrepare)); // nr 0x44 out of range
        Assert.Equal(E(Errno.EINVAL), LuoSyscallsV4.UnpreserveFd(m, mp, ms, 1));                // RETRIEVE_FD on an OUT session
    }

    /// <summary>Brings a fresh machine into <paramref name="st"/> with one session "s" holding a test file;
    /// returns the device fd.</summary>
    private int Reach(LiveupdateState st)
    {
        int dev = OpenDev();
        int s = V4Create(dev, "s");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 5), 1));
        if (st == LiveupdateState.Normal) return dev;
        Assert.Equal(0, Event(dev, V4.EventPrepare));
        if (st == LiveupdateState.Prepared) return dev;
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        if (st == LiveupdateState.Frozen) return dev;
        K = K.Kexec();
        P = K.CreateProcess();
        return OpenDev();
    }

    public static TheoryData<LiveupdateState, uint, Errno, LiveupdateState> Transitions => new()
    {
        { LiveupdateState.Normal, V4.EventPrepare, Errno.Ok, LiveupdateState.Prepared },
        { LiveupdateState.Normal, V4.EventFinish, Errno.EINVAL, LiveupdateState.Normal },
        { LiveupdateState.Normal, V4.EventCancel, Errno.EINVAL, LiveupdateState.Normal },
        { LiveupdateState.Normal, V4.EventFreeze, Errno.EOPNOTSUPP, LiveupdateState.Normal },
        { LiveupdateState.Normal, 7, Errno.EOPNOTSUPP, LiveupdateState.Normal },
        { LiveupdateState.Prepared, V4.EventPrepare, Errno.EINVAL, LiveupdateState.Prepared },
        { LiveupdateState.Prepared, V4.EventFinish, Errno.EINVAL, LiveupdateState.Prepared },
        { LiveupdateState.Prepared, V4.EventCancel, Errno.Ok, LiveupdateState.Normal },
        { LiveupdateState.Prepared, V4.EventFreeze, Errno.EOPNOTSUPP, LiveupdateState.Prepared },
        { LiveupdateState.Updated, V4.EventPrepare, Errno.EINVAL, LiveupdateState.Updated },
        { LiveupdateState.Updated, V4.EventFinish, Errno.Ok, LiveupdateState.Normal },
        { LiveupdateState.Updated, V4.EventCancel, Errno.EINVAL, LiveupdateState.Updated },
        { LiveupdateState.Updated, V4.EventFreeze, Errno.EOPNOTSUPP, LiveupdateState.Updated },
        { LiveupdateState.Frozen, V4.EventPrepare, Errno.Frozen, LiveupdateState.Frozen },
        { LiveupdateState.Frozen, V4.EventFinish, Errno.Frozen, LiveupdateState.Frozen },
        { LiveupdateState.Frozen, V4.EventCancel, Errno.Frozen, LiveupdateState.Frozen },
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Global_event_in_each_state(LiveupdateState from, uint ev, Errno expected, LiveupdateState to)
    {
        int dev = Reach(from);
        Assert.Equal(V4.Wire(from), GlobalState(dev));
        Assert.Equal(E(expected), Event(dev, ev));
        Assert.Equal(V4.Wire(to), GlobalState(dev));
        Assert.Equal(to, K.Luo.UapiState);
    }

    [Theory]
    [InlineData(LiveupdateState.Normal, false, LuoAbi.LuoV5)]
    [InlineData(LiveupdateState.Prepared, true, LuoAbi.LuoV5)]
    [InlineData(LiveupdateState.Updated, false, LuoAbi.LuoV5)]
    [InlineData(LiveupdateState.Normal, false, LuoAbi.FdtV1)]
    [InlineData(LiveupdateState.Prepared, true, LuoAbi.FdtV1)]
    [InlineData(LiveupdateState.Updated, false, LuoAbi.FdtV1)]
    public void Reboot_hands_over_only_from_prepared(LiveupdateState from, bool handover, LuoAbi abi)
    {
        K = Kernel.Kernel.ColdBoot(Config(abi));
        P = K.CreateProcess();
        Reach(from);
        var prev = K;
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(handover, prev.Luo.IsFrozen);
        Assert.Equal(handover ? LiveupdateState.Frozen : from, prev.Luo.UapiState);
        K = K.Kexec();
        Assert.False(K.Panicked, K.Outcome.PanicReason);
        P = K.CreateProcess();
        int dev = OpenDev();
        Assert.Equal(handover ? V4.StateUpdated : V4.StateNormal, GlobalState(dev));
        Assert.Equal(handover ? 0 : E(Errno.EBUSY), LuoSyscallsV4.RetrieveSession(K, P, dev, "s", out _));
    }

    [Theory]
    [InlineData(LuoAbi.LuoV5)]
    [InlineData(LuoAbi.FdtV1)]
    public void Prepare_reboot_kexec_restore_finish_keeps_memfd_bytes(LuoAbi abi)
    {
        K = Kernel.Kernel.ColdBoot(Config(abi));
        P = K.CreateProcess();
        int dev = OpenDev();
        int s = V4Create(dev, "vm-0");
        byte[] a = Pattern(1), b = Pattern(2);
        int ma = MemfdWith(a), mb = MemfdWith(b);
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, ma, 10));
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, mb, 20));
        K.Close(P, ma);
        K.Close(P, mb);
        Assert.Equal(0, Event(dev, V4.EventPrepare));
        Assert.Equal(V4.StatePrepared, GlobalState(dev));
        Assert.Equal(V4.StatePrepared, SessionState(s));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.PreserveFd(K, P, s, MemfdWith(a), 30)); // PREPARED: no preserve
        KexecNext(Config(abi));

        dev = OpenDev();
        Assert.Equal(V4.StateUpdated, GlobalState(dev));
        Assert.Equal(0, LuoSyscallsV4.RetrieveSession(K, P, dev, "vm-0", out int rs));
        Assert.Equal(V4.StateUpdated, SessionState(rs));
        Assert.Equal(E(Errno.EINVAL), LuoSyscallsV4.RetrieveSession(K, P, dev, "vm-0", out _));
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.RetrieveSession(K, P, dev, "vm-1", out _));
        long fa = LuoSyscallsV4.RestoreAndVerifyMemfd(K, P, rs, 10, a);
        long fb = LuoSyscallsV4.RestoreAndVerifyMemfd(K, P, rs, 20, b);
        Assert.True(fa >= 0 && fb >= 0, $"restore {fa} {fb}");
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.RestoreFd(K, P, rs, 30, out _));
        Assert.Equal(E(Errno.EEXIST), LuoSyscallsV4.CreateSession(K, P, dev, "vm-0", out _)); // one name space with incoming
        Assert.Equal(0, Event(dev, V4.EventFinish));
        Assert.Equal(V4.StateNormal, GlobalState(dev));
        Assert.Equal(V4.StateNormal, SessionState(rs));                                     // an empty NORMAL session now
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RestoreFd(K, P, rs, 10, out _));
        // the restored memfds survive FINISH and can be preserved again in the same session
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, rs, (int)fa, 11));
        Assert.Equal(0, Event(dev, V4.EventPrepare));
        KexecNext(Config(abi));
        dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RetrieveSession(K, P, dev, "vm-0", out rs));
        Assert.True(LuoSyscallsV4.RestoreAndVerifyMemfd(K, P, rs, 11, a) >= 0);
    }

    [Theory]
    [InlineData(LuoAbi.LuoV5)]
    [InlineData(LuoAbi.FdtV1)]
    public void Cancel_rolls_back_to_the_state_before_prepare(LuoAbi abi)
    {
        K = Kernel.Kernel.ColdBoot(Config(abi));
        P = K.CreateProcess();
        int dev = OpenDev();
        int s1 = V4Create(dev, "one"), s2 = V4Create(dev, "two");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s1, MemfdWith(Pattern(3)), 1));
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s2, (int)K.CreateTestFile(P, 9), 2));
        var before = K.Luo.Snapshot();
        var th = K.TestHandler!;
        th.ClearLog();
        Assert.Equal(0, Event(dev, V4.EventPrepare));
        Assert.Equal(abi == LuoAbi.FdtV1, K.Kho.Finalized);
        Assert.Equal(abi == LuoAbi.LuoV5, K.Luo.OutSessionsPa != 0);
        Assert.Equal(0, Event(dev, V4.EventCancel));
        Assert.False(K.Kho.Finalized);
        Assert.Equal(before, K.Luo.Snapshot());
        Assert.Equal([TestOp.Freeze, TestOp.Unfreeze], th.Log.Select(r => r.Op));
        Assert.Equal(V4.StateNormal, SessionState(s1));
        Assert.Equal(0, LuoSyscallsV4.UnpreserveFd(K, P, s2, 2));                            // usable again
        Assert.Equal(0, Event(dev, V4.EventPrepare));
        KexecNext(Config(abi));
        dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RetrieveSession(K, P, dev, "one", out int r1));
        Assert.True(LuoSyscallsV4.RestoreAndVerifyMemfd(K, P, r1, 1, Pattern(3)) >= 0);
        Assert.Equal(0, LuoSyscallsV4.RetrieveSession(K, P, dev, "two", out int r2));
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.RestoreFd(K, P, r2, 2, out _));        // unpreserved before the update
    }

    [Fact]
    public void Failed_prepare_stays_normal_with_everything_unfrozen()
    {
        int dev = OpenDev();
        int s = V4Create(dev, "s");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 1), 1));
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 2), 2));
        var before = K.Luo.Snapshot();
        K.TestHandler!.Fail[TestOp.Freeze] = Errno.ENOSPC;
        Assert.Equal(E(Errno.ENOSPC), Event(dev, V4.EventPrepare));
        Assert.Equal(V4.StateNormal, GlobalState(dev));
        Assert.Equal(V4.StateNormal, SessionState(s));
        Assert.Equal(before, K.Luo.Snapshot());
        K.TestHandler.Fail.Clear();
        Assert.Equal(0, Event(dev, V4.EventPrepare));
    }

    [Fact]
    public void Closing_an_outgoing_session_while_prepared_cancels_the_update()
    {
        int dev = OpenDev();
        int s = V4Create(dev, "s");
        V4Create(dev, "t");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 1), 1));
        Assert.Equal(0, Event(dev, V4.EventPrepare));
        K.Close(P, s);
        Assert.Equal(V4.StateNormal, GlobalState(dev));
        Assert.Single(K.Luo.Outgoing.Sessions);
        Assert.Equal(0UL, K.Luo.OutSessionsPa);
    }

    [Fact]
    public void Session_commands_check_global_and_session_state()
    {
        int dev = OpenDev();
        int s = V4Create(dev, "s");
        int m = MemfdWith(Pattern(4));
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, m, 1));
        Assert.Equal(E(Errno.EEXIST), LuoSyscallsV4.PreserveFd(K, P, s, m, 1));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.PreserveFd(K, P, s, m, 2));           // registry (double preserve)
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RestoreFd(K, P, s, 1, out _));        // not UPDATED
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.UnpreserveFd(K, P, s, 99));
        var un = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(un, 16);
        un[4] = 1;
        Assert.Equal(E(Errno.EOPNOTSUPP), LuoSyscalls.RawIoctl(K, P, s, V4.UnpreserveFd, un));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RetrieveSession(K, P, dev, "s", out _)); // not UPDATED
        Assert.Equal(E(Errno.EEXIST), LuoSyscallsV4.CreateSession(K, P, dev, "s", out _));
        var name = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(name, 64);
        name.AsSpan(8).Fill((byte)'n');                                                       // 56 bytes, no NUL
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, dev, V4.CreateSession, name));
        name[63] = 0;                                                                         // 55 + NUL
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, dev, V4.CreateSession, name));

        Assert.Equal(0, Event(dev, V4.EventPrepare));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.UnpreserveFd(K, P, s, 1));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.PreserveFd(K, P, s, MemfdWith(Pattern(5)), 3));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.CreateSession(K, P, dev, "u", out _));
        Assert.Equal(0, Event(dev, V4.EventCancel));
        Assert.Equal(0, LuoSyscallsV4.UnpreserveFd(K, P, s, 1));
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, m, 2));                            // unpreserved: free again
    }

    public static TheoryData<uint, uint, Errno, uint> SessionTransitions => new()
    {
        { V4.StateNormal, V4.EventPrepare, Errno.Ok, V4.StatePrepared },
        { V4.StateNormal, V4.EventFreeze, Errno.EBUSY, V4.StateNormal },
        { V4.StateNormal, V4.EventCancel, Errno.Ok, V4.StateNormal },
        { V4.StateNormal, V4.EventFinish, Errno.Ok, V4.StateNormal },
        { V4.StateNormal, 4, Errno.EINVAL, V4.StateNormal },
        { V4.StatePrepared, V4.EventPrepare, Errno.EBUSY, V4.StatePrepared },
        { V4.StatePrepared, V4.EventFreeze, Errno.Ok, V4.StateFrozen },
        { V4.StatePrepared, V4.EventCancel, Errno.Ok, V4.StateNormal },
        { V4.StatePrepared, V4.EventFinish, Errno.Ok, V4.StatePrepared },
        { V4.StateFrozen, V4.EventPrepare, Errno.EBUSY, V4.StateFrozen },
        { V4.StateFrozen, V4.EventFreeze, Errno.EBUSY, V4.StateFrozen },
        { V4.StateFrozen, V4.EventCancel, Errno.Ok, V4.StateNormal },
        { V4.StateFrozen, V4.EventFinish, Errno.Ok, V4.StateFrozen },
    };

    [Theory]
    [MemberData(nameof(SessionTransitions))]
    public void Session_event_in_each_outgoing_state(uint from, uint ev, Errno expected, uint to)
    {
        int dev = OpenDev();
        int s = V4Create(dev, "s");
        if (from >= V4.StatePrepared) Assert.Equal(0, LuoSyscallsV4.SessionSetEvent(K, P, s, V4.EventPrepare));
        if (from >= V4.StateFrozen) Assert.Equal(0, LuoSyscallsV4.SessionSetEvent(K, P, s, V4.EventFreeze));
        Assert.Equal(from, SessionState(s));
        Assert.Equal(E(expected), LuoSyscallsV4.SessionSetEvent(K, P, s, ev));
        Assert.Equal(to, SessionState(s));
        Assert.Equal(V4.StateNormal, GlobalState(dev));
        if (to != V4.StateNormal) Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 1), 1));
    }

    [Fact]
    public void Session_finish_on_an_updated_session_finishes_it_alone()
    {
        int dev = Reach(LiveupdateState.Updated);
        Assert.Equal(0, LuoSyscallsV4.RetrieveSession(K, P, dev, "s", out int rs));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.SessionSetEvent(K, P, rs, V4.EventPrepare));
        Assert.Equal(0, LuoSyscallsV4.SessionSetEvent(K, P, rs, V4.EventCancel));          // nothing to cancel
        Assert.Equal(V4.StateUpdated, SessionState(rs));
        Assert.Equal(0, LuoSyscallsV4.SessionSetEvent(K, P, rs, V4.EventFinish));
        Assert.Equal(V4.StateNormal, SessionState(rs));
        Assert.Equal(V4.StateUpdated, GlobalState(dev));                                    // global FINISH still due
        Assert.Contains(K.TestHandler!.Log, r => r.Op == TestOp.Finish);
        Assert.Equal(0, Event(dev, V4.EventFinish));
    }
}
