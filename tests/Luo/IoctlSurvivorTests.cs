using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of the `ioctl` chunk in LuoIoctl.cs (luo.md §3.2–§3.5,
/// §3.9): the late direction-check mutant, the direction-check switch, fd 0 and close-on-exec of session fds,
/// the name field of an empty name, reserved fds released on every failure path, growth of the session blocks
/// under the EEXIST-before-grow mutant, the GET_NAME ksize-reply mutant and the tail check (step 6) with and
/// without the TailCheckSkipped mutant.</summary>
public sealed class IoctlSurvivorTests : LuoTestBase
{
    private void Boot(LuoOptions luo)
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { DramBytes = 1UL << 30, Luo = luo });
        P = K.CreateProcess();
    }

    private static byte[] FinishStruct()
    {
        var b = new byte[LiveupdateUapi.FinishStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FinishStructSize);
        return b;
    }

    // ----- §3.2 step 4 moved after the copy (mutant DirectionCheckAfterCopy) -----

    [Fact]
    public void Late_direction_check_still_answers_valid_calls_and_rejects_the_wrong_direction()
    {
        Boot(new LuoOptions { Mutants = LuoMutant.DirectionCheckAfterCopy });
        int dev = OpenDev();
        int s = Create(dev, "late");
        int m = Memfd("x");
        // A valid PRESERVE_FD on an outgoing session: the copy is done and the command runs.
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 5));
        Assert.Single(K.Luo.Outgoing.List.Single().Files);
        // FINISH on an outgoing session is the wrong direction: EINVAL after a good copy, nothing finished.
        var fin = FinishStruct();
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(K, P, s, LiveupdateUapi.Finish, fin));
        Assert.Equal(FinishStruct(), fin);
        Assert.Equal(SessionState.Out, K.Luo.Outgoing.List.Single().State);
        Assert.Single(K.Luo.Outgoing.List.Single().Files);
    }

    // ----- direction_check=off (luo.md §3.2 step 4 is a variant) -----

    [Fact]
    public void Without_the_direction_check_finish_of_an_outgoing_session_is_not_EINVAL()
    {
        Boot(new LuoOptions { DirectionCheck = false });
        int dev = OpenDev();
        int s = Create(dev, "nodir");
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s));
        Boot(new LuoOptions());
        dev = OpenDev();
        s = Create(dev, "dir");
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.Finish(K, P, s));
    }

    // ----- session fds: lowest free number (0 included), close-on-exec -----

    [Fact]
    public void Create_and_retrieve_session_hand_out_fd_0_when_it_is_free()
    {
        int dev = OpenDev();
        Assert.Equal(0, dev);
        int dev2 = (int)K.Dup(P, dev);
        Assert.Equal(1, dev2);
        Assert.Equal(0, K.Close(P, dev));
        Assert.Equal(0, LuoSyscalls.CreateSession(K, P, dev2, "zero", out int s));
        Assert.Equal(0, s);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, Memfd("z"), 1));
        KexecNext();

        dev = OpenDev();
        dev2 = (int)K.Dup(P, dev);
        Assert.Equal(0, K.Close(P, dev));
        var b = SessionStruct("zero");
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, dev2, LiveupdateUapi.RetrieveSession, b));
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset)));
        Assert.IsType<SessionFile>(P.FileOf(0));
        Assert.Equal(FcntlCmd.FD_CLOEXEC, K.Fcntl(P, 0, FcntlCmd.F_GETFD));   // anon_inode_getfd(..., O_CLOEXEC)
    }

    [Fact]
    public void Created_and_retrieved_session_fds_are_close_on_exec()
    {
        int dev = OpenDev();
        int s = Create(dev, "cloexec");
        Assert.Equal(FcntlCmd.FD_CLOEXEC, K.Fcntl(P, s, FcntlCmd.F_GETFD));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, Memfd("c"), 1));
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "cloexec", out int s2));
        Assert.Equal(FcntlCmd.FD_CLOEXEC, K.Fcntl(P, s2, FcntlCmd.F_GETFD));
    }

    // ----- name_check=off: an empty name keeps an all-zero field -----

    [Fact]
    public void Without_the_name_check_an_empty_name_stores_a_zero_field_whatever_follows_the_NUL()
    {
        Boot(new LuoOptions { NameCheck = false });
        int dev = OpenDev();
        var b = SessionStruct("");
        "\0abc"u8.CopyTo(b.AsSpan(LiveupdateUapi.NameOffset));
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, dev, LiveupdateUapi.CreateSession, b));
        var session = K.Luo.Outgoing.List.Single();
        Assert.Equal(new byte[LiveupdateUapi.NameLength], session.NameBytes);
        Assert.Equal("", session.Name);
    }

    // ----- reserved fds are released on the frozen and allocation-failure paths -----

    [Fact]
    public void Create_session_while_frozen_releases_its_reserved_fd()
    {
        int dev = OpenDev();                                          // fd 0
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.True(K.Luo.IsFrozen);
        var b = SessionStruct("late");
        Assert.Equal(E(Errno.Frozen), LuoSyscalls.RawIoctl(K, P, dev, LiveupdateUapi.CreateSession, b));
        Assert.Equal(SessionStruct("late"), b);                        // no reply
        Assert.Equal(1L, K.Dup(P, dev));                               // fd 1 was given back
        Assert.Empty(K.Luo.Outgoing.List);
    }

    [Fact]
    public void Retrieve_session_while_frozen_releases_its_reserved_fd()
    {
        int dev = OpenDev();
        int s = Create(dev, "kept");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, Memfd("k"), 1));
        KexecNext();
        dev = OpenDev();                                              // fd 0
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.True(K.Luo.IsFrozen);
        Assert.Equal(E(Errno.Frozen), LuoSyscalls.RetrieveSession(K, P, dev, "kept", out int s2));
        Assert.Equal(-1, s2);
        Assert.Equal(1L, K.Dup(P, dev));
        Assert.False(K.Luo.Incoming.List.Single().Retrieved);
    }

    [Fact]
    public void Retrieve_session_file_allocation_failure_releases_the_fd_and_leaves_the_session_retrievable()
    {
        int dev = OpenDev();
        int s = Create(dev, "alloc");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, Memfd("a"), 1));
        KexecNext();
        dev = OpenDev();                                              // fd 0
        K.Faults.FailNext(FaultPoint.SessionFileAlloc, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.RetrieveSession(K, P, dev, "alloc", out _));
        Assert.Equal([0], P.OpenFds);
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "alloc", out int s2));
        Assert.Equal(1, s2);                                          // the failed call's fd 1 was given back
    }

    // ----- mutant EexistBeforeGrow: a new name still grows the session blocks -----

    [Fact]
    public void Eexist_before_grow_grows_for_a_new_name_and_not_for_a_duplicate()
    {
        Boot(new LuoOptions { Mutants = LuoMutant.EexistBeforeGrow });
        int dev = OpenDev();
        var blocks = K.Luo.Outgoing.Blocks!;
        Assert.Equal(0, blocks.BlockCount);
        Create(dev, "first");
        Assert.Equal(1, blocks.BlockCount);
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.CreateSession(K, P, dev, "first", out _));
        Assert.Equal(1, blocks.BlockCount);
        Assert.Single(K.Luo.Outgoing.List);
    }

    // ----- mutant GetNameReplyKsize: the reply is cut to the table's ksize -----

    [Fact]
    public void Get_name_ksize_reply_mutant_copies_only_ksize_bytes()
    {
        Boot(new LuoOptions { Mutants = LuoMutant.GetNameReplyKsize });   // get_name table size 16 (default)
        int dev = OpenDev();
        int s = Create(dev, "abcdefghijkl");
        var b = new byte[LiveupdateUapi.GetNameStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.GetNameStructSize);
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, s, LiveupdateUapi.GetName, b));
        var expected = new byte[LiveupdateUapi.GetNameStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(expected, LiveupdateUapi.GetNameStructSize);
        "abcdefgh"u8.CopyTo(expected.AsSpan(LiveupdateUapi.NameOffset));
        Assert.Equal(expected, b);
    }

    // ----- §3.2 step 6 and the TailCheckSkipped mutant -----

    [Fact]
    public void A_non_zero_tail_is_E2BIG_unless_the_tail_check_mutant_skips_it()
    {
        foreach (var mutants in new[] { LuoMutant.None, LuoMutant.TailCheckSkipped })
        {
            Boot(new LuoOptions { Mutants = mutants });
            int dev = OpenDev();
            var b = SessionStruct("tail", 80);
            b[79] = 1;                                                // last byte past ksize (72)
            long expected = mutants == LuoMutant.None ? E(Errno.E2BIG) : 0;
            Assert.Equal(expected, LuoSyscalls.RawIoctl(K, P, dev, LiveupdateUapi.CreateSession, b));
            Assert.Equal(mutants == LuoMutant.None ? 0 : 1, K.Luo.Outgoing.List.Count);
        }
    }
}
