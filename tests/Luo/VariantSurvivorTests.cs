using LuoModel.Kernel;
using LuoModel.Kho;
using V4 = LuoModel.Kernel.LiveupdateUapiV4;

namespace LuoModel.Tests.Luo;

/// <summary>
/// The seed-patch uAPIs (luo.md §7.2 rfc, §7.3 v4; kernel-model/LuoUapiV4.cs, LuoSyscallsV4.cs): v4
/// CREATE_SESSION's error paths give their fd back, name capping of the v4 wrappers, and what the v4/rfc wrappers
/// report when a call fails. Written against the Stryker survivors of the `variants` chunk
/// (property-tests/README.md).
/// </summary>
public sealed class VariantSurvivorTests : LuoTestBase
{
    private static KernelConfig Config(LuoUapi uapi) =>
        new() { DramBytes = 1UL << 28, RegisterTestHandler = true, Luo = new LuoOptions { Uapi = uapi } };

    public VariantSurvivorTests() : base(Config(LuoUapi.V4)) { }

    private void Boot(LuoUapi uapi)
    {
        K = Kernel.Kernel.ColdBoot(Config(uapi));
        P = K.CreateProcess();
    }

    /// <summary>A one-page memfd of <paramref name="b"/> bytes.</summary>
    private int PageMemfd(byte b)
    {
        var data = new byte[UserMemory.PageSize];
        data.AsSpan().Fill(b);
        return MemfdWith(data);
    }

    private int V4Create(int dev, string name)
    {
        Assert.Equal(0, LuoSyscallsV4.CreateSession(K, P, dev, name, out int fd));
        return fd;
    }

    /// <summary>A v4 session holding two one-page memfds under tokens 1 and 2.</summary>
    private int V4SessionWithTwoMemfds(int dev)
    {
        int s = V4Create(dev, "s");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, PageMemfd(1), 1));
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, PageMemfd(2), 2));
        return s;
    }

    /// <summary>The fd the next successful open gets (the lowest free one), closed again.</summary>
    private int NextFd()
    {
        int fd = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(0, K.Close(P, fd));
        return fd;
    }

    [Fact]
    public void V4_create_session_gives_the_reserved_fd_back_on_every_error()
    {
        int dev = OpenDev();
        int free = NextFd();
        var raw = new byte[V4.CreateStructSize];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(raw, V4.CreateStructSize);
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, dev, V4.CreateSession, raw));        // empty name
        Assert.Equal(free, NextFd());
        raw.AsSpan(LiveupdateUapi.NameOffset).Fill((byte)'n');
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, dev, V4.CreateSession, raw));        // unterminated in 56
        Assert.Equal(free, NextFd());
        K.Config.Faults.FailNext(FaultPoint.SessionAlloc, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscallsV4.CreateSession(K, P, dev, "a", out int fd));
        Assert.Equal(-1, fd);
        Assert.Equal(free, NextFd());
        K.Config.Faults.FailNext(FaultPoint.SessionFileAlloc, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscallsV4.CreateSession(K, P, dev, "a", out _));
        Assert.Equal(free, NextFd());
        Assert.Empty(K.Luo.Outgoing.Sessions);                                                         // and the session went
        ulong ro = UserBuf(LuoSyscalls.SessionStruct("b", V4.CreateStructSize, V4.NameLength - 1), Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, V4.CreateSession, ro));                          // reply fault
        Assert.Equal(free, NextFd());
        Assert.Empty(K.Luo.Outgoing.Sessions);
        Assert.Equal(0, LuoSyscallsV4.CreateSession(K, P, dev, "b", out fd));
        Assert.Equal(free, fd);
        Assert.Equal(E(Errno.EEXIST), LuoSyscallsV4.CreateSession(K, P, dev, "b", out _));
        Assert.Equal(free + 1, NextFd());
    }

    [Fact]
    public void V4_wrappers_cap_long_names_to_their_structs()
    {
        int dev = OpenDev();
        string longName = new('x', 70);
        Assert.Equal(0, LuoSyscallsV4.CreateSession(K, P, dev, longName, out int s));
        var session = Assert.Single(K.Luo.Outgoing.Sessions);
        Assert.Same(session, Assert.IsType<SessionFile>(P.FileOf(s)).Session);
        Assert.Equal(new string('x', V4.NameLength - 1), LuoStrings.FromField(session.NameBytes));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RetrieveSession(K, P, dev, longName, out int r)); // NORMAL: nothing incoming
        Assert.Equal(-1, r);
    }

    [Fact]
    public void V4_failed_state_reads_and_restores_report_zero_and_minus_one()
    {
        Assert.Equal(E(Errno.EBADF), LuoSyscallsV4.GetState(K, P, 40, out uint st));
        Assert.Equal(0u, st);
        Assert.Equal(E(Errno.EBADF), LuoSyscallsV4.SessionGetState(K, P, 40, out st));
        Assert.Equal(0u, st);
        int s = V4Create(OpenDev(), "s");
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RestoreFd(K, P, s, 1, out int fd));
        Assert.Equal(-1, fd);
        Assert.Throws<ArgumentNullException>(() => LuoSyscallsV4.RestoreAndVerifyMemfd(null!, P, s, 1, []));
        Assert.Throws<ArgumentNullException>(() => LuoSyscallsV4.RfcRestoreAndVerifyMemfd(null!, P, s, 1, []));
        Assert.Throws<ArgumentNullException>(() => LuoSyscallsV4.RfcEvent(null!, P, s, 0));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RestoreAndVerifyMemfd(K, P, s, 1, []));
    }

    [Fact]
    public void V4_restore_and_verify_closes_the_fd_on_a_mismatch_and_on_an_unreadable_page()
    {
        int dev = OpenDev();
        int s = V4Create(dev, "vm");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, PageMemfd(0x11), 1));
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, (int)K.MemfdCreate(P, "empty", 0), 2));
        Assert.Equal(0, LuoSyscallsV4.SetEvent(K, P, dev, V4.EventPrepare));
        KexecNext(Config(LuoUapi.V4));
        dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RetrieveSession(K, P, dev, "vm", out int rs));
        int free = NextFd();
        int mapped = P.Memory.MappedPages;
        var wrong = new byte[16];
        wrong.AsSpan().Fill(0x12);
        Assert.Equal(E(Errno.EINVAL), LuoSyscallsV4.RestoreAndVerifyMemfd(K, P, rs, 1, wrong));
        Assert.Equal(free, NextFd());
        Assert.Equal(E(Errno.EFAULT), LuoSyscallsV4.RestoreAndVerifyMemfd(K, P, rs, 2, wrong)); // size 0: SIGBUS
        Assert.Equal(free, NextFd());
        Assert.Equal(mapped, P.Memory.MappedPages);
    }

    [Fact]
    public void Rfc_failed_calls_report_no_token_no_fd_and_an_impossible_state()
    {
        Boot(LuoUapi.Rfc);
        int dev = OpenDev();
        Assert.Equal(E(Errno.EBADF), LuoSyscallsV4.RfcGetState(K, P, 40, out uint st));
        Assert.Equal(uint.MaxValue, st);
        Assert.Equal(E(Errno.EBADF), LuoSyscallsV4.RfcPreserve(K, P, dev, 40, out ulong token));
        Assert.Equal(0UL, token);
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RfcRestore(K, P, dev, 1, out int fd));
        Assert.Equal(-1, fd);
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RfcRestoreAndVerifyMemfd(K, P, dev, 1, []));
    }

    [Fact]
    public void V4_create_session_takes_fd_0_keeps_no_bytes_past_the_nul_and_is_refused_once_prepared()
    {
        int nul = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        int dev = OpenDev();
        Assert.Equal(0, K.Close(P, nul));
        var raw = LuoSyscalls.SessionStruct("ab", V4.CreateStructSize, V4.NameLength - 1);
        "zz"u8.CopyTo(raw.AsSpan(LiveupdateUapi.NameOffset + 3));          // bytes after the terminator
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, dev, V4.CreateSession, raw));
        Assert.Equal(0, System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(LiveupdateUapi.FdOffset)));
        var field = Assert.Single(K.Luo.Outgoing.Sessions).NameBytes;
        Assert.Equal("ab"u8.ToArray(), field[..2]);
        Assert.All(field[2..], b => Assert.Equal(0, b));
        Assert.Equal(0, LuoSyscallsV4.SetEvent(K, P, dev, V4.EventPrepare));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.CreateSession(K, P, dev, "c", out _));
    }

    private byte[] Bytes(ulong phys, int n)
    {
        var b = new byte[n];
        K.Arena.Read(phys, b);
        return b;
    }

    [Fact]
    public void V4_cancel_zeroes_the_written_session_entries_and_the_root_pointer()
    {
        int dev = OpenDev();
        int s1 = V4Create(dev, "first");
        int s2 = V4Create(dev, "second");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s1, PageMemfd(1), 1));
        int attempts = K.Luo.SerializeAttempts;
        Assert.Equal(0, LuoSyscallsV4.SetEvent(K, P, dev, V4.EventPrepare));
        Assert.Equal(attempts + 1, K.Luo.SerializeAttempts);
        var blocks = K.Luo.Outgoing.Blocks!;
        ulong e0 = blocks.SlotAddress(0), e1 = blocks.SlotAddress(1);
        Assert.Equal("first"u8.ToArray(), Bytes(e0 + LuoSessionSer.NameOffset, 5));
        Assert.NotEqual(0UL, K.Arena.ReadU64(K.Luo.OutRootPhys + LuoSerRoot.SessionsPaOffset));
        Assert.Equal(0, LuoSyscallsV4.SetEvent(K, P, dev, V4.EventCancel));
        Assert.All(Bytes(e0, LuoSessionSer.Size), x => Assert.Equal(0, x));
        Assert.All(Bytes(e1, LuoSessionSer.Size), x => Assert.Equal(0, x));
        Assert.Equal(0UL, K.Arena.ReadU64(K.Luo.OutRootPhys + LuoSerRoot.SessionsPaOffset));
        GC.KeepAlive(s2);
    }

    [Fact]
    public void V4_unpreserve_takes_the_file_out_completely()
    {
        int dev = OpenDev();
        int s = V4Create(dev, "u");
        int m = PageMemfd(7);
        var inode = Assert.IsType<MemfdFile>(P.FileOf(m)).Inode;
        var preservedBefore = K.Kho.PreservedBlocks();
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s, m, 1));
        Assert.NotEqual(preservedBefore, K.Kho.PreservedBlocks());
        var session = Assert.Single(K.Luo.Outgoing.Sessions);
        Assert.Equal(1, session.FileBlocks!.BlockCount);
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.UnpreserveFd(K, P, s, 2));
        Assert.Equal(0, LuoSyscallsV4.UnpreserveFd(K, P, s, 1));
        Assert.Empty(session.Files);
        Assert.Equal(0, session.FileBlocks.BlockCount);                                 // the file block went back
        Assert.Equal(preservedBefore, K.Kho.PreservedBlocks());                         // memfd unpreserve ran
        int s2 = V4Create(dev, "v");
        Assert.Equal(0, LuoSyscallsV4.PreserveFd(K, P, s2, m, 3));                      // registry entry erased
        Assert.Equal(0, LuoSyscallsV4.UnpreserveFd(K, P, s2, 3));
        Assert.Equal(1, inode.PageCount);
        Assert.Equal(0, K.Close(P, m));                                                 // LUO dropped its reference
        Assert.Equal(0, inode.PageCount);
    }

    [Fact]
    public void Rfc_a_failed_first_preserve_leaves_no_session_and_every_event_after_the_reboot_is_frozen()
    {
        Boot(LuoUapi.Rfc);
        int dev = OpenDev();
        Assert.Equal(E(Errno.EBADF), LuoSyscallsV4.RfcPreserve(K, P, dev, 77, out _));
        Assert.Empty(K.Luo.Outgoing.Sessions);                                          // the implicit session went again
        Assert.Equal(0, LuoSyscallsV4.RfcEvent(K, P, dev, LiveupdateUapiRfc.EventPrepare));
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        foreach (uint ev in new[] { LiveupdateUapiRfc.EventPrepare, LiveupdateUapiRfc.EventFreeze, LiveupdateUapiRfc.EventCancel, LiveupdateUapiRfc.EventFinish })
            Assert.Equal(E(Errno.Frozen), LuoSyscallsV4.RfcEvent(K, P, dev, ev));
    }

    [Fact]
    public void Rfc_restore_without_the_rfc_session_is_enoent_and_gives_the_fd_back()
    {
        Boot(LuoUapi.Simplified);                                                       // sessions, but not rfc's one
        int s = Create(OpenDev(), "plain");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, PageMemfd(5), 1));
        KexecNext(Config(LuoUapi.Rfc));
        int dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RfcGetState(K, P, dev, out uint st));
        Assert.Equal(LiveupdateUapiRfc.Wire(LiveupdateState.Updated), st);
        int free = NextFd();
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.RfcRestore(K, P, dev, 1, out _));
        Assert.Equal(free, NextFd());
    }

    [Fact]
    public void Rfc_restore_installs_at_fd_0_and_a_reply_fault_gives_fd_and_reference_back()
    {
        Boot(LuoUapi.Rfc);
        int dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, PageMemfd(3), out ulong t1));
        Assert.Equal(0, LuoSyscallsV4.RfcPreserve(K, P, dev, PageMemfd(4), out ulong t2));
        Assert.Equal(0, LuoSyscallsV4.RfcEvent(K, P, dev, LiveupdateUapiRfc.EventPrepare));
        KexecNext(Config(LuoUapi.Rfc));
        int nul = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        dev = OpenDev();
        Assert.Equal(0, K.Close(P, nul));
        var b = new byte[LiveupdateUapiRfc.FdStructSize];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(LiveupdateUapiRfc.TokenOffset), t1);
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, LiveupdateUapiRfc.FdRestore, UserBuf(b, Prot.Read)));
        Assert.Null(P.FileOf(0));                                                       // fd 0 given back
        Assert.Equal(0, LuoSyscallsV4.RfcRestore(K, P, dev, t2, out int fd));
        Assert.Equal(0, fd);
        Assert.IsType<MemfdFile>(P.FileOf(0));
    }

    [Fact]
    public void V4_unpreserve_reports_a_reply_fault_and_is_refused_once_prepared()
    {
        int dev = OpenDev();
        int s = V4SessionWithTwoMemfds(dev);
        ulong ro = UserBuf(LuoSyscalls.FdStruct(0, 2), Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, s, V4.UnpreserveFd, ro));                 // unpreserved all the same
        Assert.Equal(E(Errno.ENOENT), LuoSyscallsV4.UnpreserveFd(K, P, s, 2));
        Assert.Equal(0, LuoSyscallsV4.SetEvent(K, P, dev, V4.EventPrepare));
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.UnpreserveFd(K, P, s, 1));                // the update is PREPARED
    }

    [Fact]
    public void V4_restore_takes_fd_0_and_a_finished_session_gives_the_fd_back()
    {
        int dev = OpenDev();
        V4SessionWithTwoMemfds(dev);
        Assert.Equal(0, LuoSyscallsV4.SetEvent(K, P, dev, V4.EventPrepare));
        KexecNext(Config(LuoUapi.V4));
        int nul = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        dev = OpenDev();
        Assert.Equal(0, LuoSyscallsV4.RetrieveSession(K, P, dev, "s", out int rs));
        Assert.Equal(0, K.Close(P, nul));
        Assert.Equal(0, LuoSyscallsV4.RestoreFd(K, P, rs, 1, out int fd));
        Assert.Equal(0, fd);
        Assert.Equal(0, LuoSyscallsV4.SessionSetEvent(K, P, rs, V4.EventFinish));             // session NORMAL, global UPDATED
        int free = NextFd();
        Assert.Equal(E(Errno.EBUSY), LuoSyscallsV4.RestoreFd(K, P, rs, 2, out _));
        Assert.Equal(free, NextFd());
    }
}
