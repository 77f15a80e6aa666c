using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Dispatch order (luo.md §3.2), CREATE/RETRIEVE_SESSION (§3.4, §3.5), GET_NAME (§3.9).</summary>
public class SessionIoctlTests : LuoTestBase
{
    [Fact]
    public void Create_returns_lowest_cloexec_fd_and_echoes_the_struct()
    {
        int dev = OpenDev();
        var b = SessionStruct("s1");
        b[70] = 0; // name tail stays zero
        ulong a = UserBuf(b);
        Assert.Equal(0, K.Ioctl(P, dev, LiveupdateUapi.CreateSession, a));
        var r = P.Memory.Peek(a, 72);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(r.AsSpan(4)));
        Assert.Equal(b.AsSpan(8).ToArray(), r.AsSpan(8).ToArray());
        Assert.True(P.IsCloseOnExec(1));
    }

    [Fact]
    public void Device_nr_out_of_range_is_EINVAL_before_EFAULT()
    {
        int dev = OpenDev();
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, dev, 0xBA02, 0));
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, dev, 0xBA40, 0));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, 0xBA00, 0));       // unreadable size
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, 0xC048BA00, 0));   // size read happens before the ENOTTY check
        ulong a = UserBuf(SessionStruct("x"));
        Assert.Equal(E(Errno.ENOTTY), K.Ioctl(P, dev, 0xC048BA00, a));
        Assert.Equal(E(Errno.ENOTTY), K.Ioctl(P, dev, 0xBB00, a));
    }

    [Fact]
    public void Size_checks_EINVAL_E2BIG_EFAULT_order()
    {
        int dev = OpenDev();
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, dev, 0xBA00, UserBuf(SessionStruct("x", 71))));
        var big = new byte[100];
        SessionStruct("x", 100).CopyTo(big, 0);
        big[99] = 1;
        Assert.Equal(E(Errno.E2BIG), K.Ioctl(P, dev, 0xBA00, UserBuf(big)));
        // 72 valid bytes at the end of a page, the tail on an unmapped page → EFAULT
        ulong page = P.Memory.Map(4096, Prot.Read | Prot.Write);
        ulong a = page + 4096 - 72;
        P.Memory.Poke(a, SessionStruct("x", 80).AsSpan(0, 72));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, 0xBA00, a));
        // a non-zero byte before the unreadable page wins (ascending scan)
        ulong a2 = page + 4096 - 76;
        P.Memory.Poke(a2, SessionStruct("y", 80).AsSpan(0, 72));
        P.Memory.Poke(a2 + 72, new byte[] { 0, 9, 0, 0 });
        Assert.Equal(E(Errno.E2BIG), K.Ioctl(P, dev, 0xBA00, a2));
        Assert.Empty(K.Luo.Outgoing.Sessions);
    }

    [Fact]
    public void Larger_zero_tail_is_accepted_and_reply_is_72_bytes()
    {
        int dev = OpenDev();
        var b = new byte[4096];
        SessionStruct("tail", 4096).CopyTo(b, 0);
        ulong a = UserBuf(b);
        Assert.Equal(0, K.Ioctl(P, dev, 0xBA00, a));
        Assert.Equal(new byte[4096 - 72], P.Memory.Peek(a + 72, 4096 - 72));
    }

    [Fact]
    public void Name_rules()
    {
        int dev = OpenDev();
        var b = SessionStruct("");
        Array.Fill(b, (byte)'X', 8, 64);
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, dev, 0xBA00, UserBuf(b)));                         // B3
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.CreateSession(K, P, dev, "", out _));              // B4
        Assert.Equal(0, LuoSyscalls.CreateSession(K, P, dev, new string('A', 63), out int fd));     // B6
        Assert.Equal(0, LuoSyscalls.GetName(K, P, fd, out string n));
        Assert.Equal(new string('A', 63), n);
        Assert.Equal(2, P.FdCount);
    }

    [Fact]
    public void Without_name_check_unterminated_names_are_truncated()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { NameCheck = false }, DramBytes = 1UL << 30 });
        P = K.CreateProcess();
        int dev = OpenDev();
        var b = SessionStruct("");
        Array.Fill(b, (byte)'X', 8, 64);
        Assert.Equal(0, K.Ioctl(P, dev, 0xBA00, UserBuf(b)));
        Assert.Equal(new string('X', 63), K.Luo.Outgoing.Sessions[0].Name);
        Assert.Equal(0, LuoSyscalls.CreateSession(K, P, dev, "", out _));
    }

    [Fact]
    public void Duplicate_name_is_EEXIST_and_no_fd_leaks()
    {
        int dev = OpenDev();
        int s = Create(dev, "duplicate-session-test");
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.CreateSession(K, P, dev, "duplicate-session-test", out _));
        Assert.Equal(2, P.FdCount);
        Assert.Equal(0, K.Close(P, s));
        Assert.Empty(K.Luo.Outgoing.Sessions);
        Create(dev, "duplicate-session-test"); // name available again
    }

    [Fact]
    public void EEXIST_after_a_full_block_keeps_the_grown_block()
    {
        int dev = OpenDev();
        K.SetrlimitNofile(P, 200, 200);
        for (int i = 0; i < 51; i++) Create(dev, $"s{i}");
        Assert.Equal(1, K.Luo.Outgoing.Blocks!.BlockCount);
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.CreateSession(K, P, dev, "s0", out _));
        Assert.Equal(2, K.Luo.Outgoing.Blocks.BlockCount);
        Create(dev, "s51");
        Assert.Equal(2, K.Luo.Outgoing.Blocks.BlockCount);
    }

    [Fact]
    public void Trim_switch_removes_the_empty_block()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { TrimEmptySessionBlock = true }, DramBytes = 1UL << 30 });
        P = K.CreateProcess();
        int dev = OpenDev();
        K.SetrlimitNofile(P, 200, 200);
        for (int i = 0; i < 51; i++) Create(dev, $"s{i}");
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.CreateSession(K, P, dev, "s0", out _));
        Assert.Equal(1, K.Luo.Outgoing.Blocks!.BlockCount);
    }

    [Fact]
    public void Create_EMFILE_beats_name_check()
    {
        int dev = OpenDev();
        K.SetrlimitNofile(P, 1, 1);
        Assert.Equal(E(Errno.EMFILE), LuoSyscalls.CreateSession(K, P, dev, "", out _));
    }

    [Fact]
    public void Create_reply_fault_runs_release_and_returns_EFAULT()
    {
        int dev = OpenDev();
        ulong a = UserBuf(SessionStruct("rf"), Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, dev, 0xBA00, a));
        Assert.Empty(K.Luo.Outgoing.Sessions);
        Assert.Equal(0, K.Luo.Outgoing.Blocks!.BlockCount);
        Assert.Equal(1, P.FdCount);
        Assert.Equal(1, K.Open(P, "/dev/null", 0)); // the reserved number was released
    }

    [Fact]
    public void Create_fault_points()
    {
        int dev = OpenDev();
        K.Faults.FailNext(FaultPoint.SessionAlloc, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.CreateSession(K, P, dev, "a", out _));
        K.Faults.FailNext(FaultPoint.SessionBlockGrow, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.CreateSession(K, P, dev, "a", out _));
        K.Faults.FailNext(FaultPoint.SessionFileAlloc, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.CreateSession(K, P, dev, "a", out _));
        Assert.Empty(K.Luo.Outgoing.Sessions);
        Assert.Equal(0, K.Luo.Outgoing.Blocks!.BlockCount);
        Assert.Equal(0, LuoSyscalls.CreateSession(K, P, dev, "a", out _));
    }

    [Fact]
    public void Retrieve_on_fresh_boot_is_ENOENT()
    {
        int dev = OpenDev();
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveSession(K, P, dev, "kexec_simple_state", out _));
    }

    [Fact]
    public void Session_nr_range_direction_and_sizes()
    {
        int dev = OpenDev();
        int s = Create(dev, "dir");
        ulong fs = UserBuf(FdStruct(0, 1));
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA3F, 0));
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA44, 0));
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA00, fs));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, s, 0xBA41, 0));
        Assert.Equal(E(Errno.ENOTTY), K.Ioctl(P, s, 0xC010BA41, fs));
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA41, fs));                    // RETRIEVE_FD on OUT
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA42, fs));                    // FINISH on OUT
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA41, UserBuf(FdStruct(0, 1, 4)))); // direction before size
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA40, UserBuf(FdStruct(0, 1, 15))));
        Assert.Equal(E(Errno.EBADF), K.Ioctl(P, s, 0xBA40, UserBuf(FdStruct(-1, 1))));
    }

    private byte[] GetNameRaw(int s, byte[] input, out long rc)
    {
        ulong a = UserBuf(input);
        rc = K.Ioctl(P, s, LiveupdateUapi.GetName, a);
        return P.Memory.Peek(a, input.Length);
    }

    [Fact]
    public void GetName_reply_sizes_16_to_72()
    {
        int dev = OpenDev();
        int s = Create(dev, "get-name-test-session");
        for (uint size = 0; size < 16; size++)
        {
            var inp = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(inp, size);
            GetNameRaw(s, inp, out long rc);
            Assert.Equal(E(Errno.EINVAL), rc);
        }
        foreach (uint size in new uint[] { 16, 17, 30, 71, 72, 80 })
        {
            var inp = new byte[96];
            BinaryPrimitives.WriteUInt32LittleEndian(inp, size);
            inp[90] = 0xEE; // beyond any reply
            var got = GetNameRaw(s, inp, out long rc);
            Assert.Equal(0, rc);
            var expect = (byte[])inp.Clone();
            byte[] name = System.Text.Encoding.ASCII.GetBytes("get-name-test-session\0");
            int n = (int)Math.Min(size, 72) - 8;
            name.AsSpan(0, Math.Min(n, name.Length)).CopyTo(expect.AsSpan(8));
            Assert.Equal(expect, got);
        }
    }

    [Fact]
    public void GetName_garbage_in_name_8_to_63_is_E2BIG_and_reserved_is_checked()
    {
        int dev = OpenDev();
        int s = Create(dev, "n");
        var inp = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(inp, 72);
        inp[16] = 1;
        GetNameRaw(s, inp, out long rc);
        Assert.Equal(E(Errno.E2BIG), rc);
        inp[16] = 0;
        inp[15] = 1; // copied in, not checked, then overwritten by the name
        var got = GetNameRaw(s, inp, out rc);
        Assert.Equal(0, rc);
        Assert.Equal((byte)'n', got[8]);
        Assert.Equal(0, got[9]);
        Assert.Equal(1, got[15]); // caller's input after the NUL echoed
        inp[4] = 1;
        GetNameRaw(s, inp, out rc);
        Assert.Equal(E(Errno.EINVAL), rc);
    }

    [Fact]
    public void GetName_table_size_72_variant()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { GetNameTableSize = GetNameTableSize.Size72 }, DramBytes = 1UL << 30 });
        P = K.CreateProcess();
        int dev = OpenDev();
        int s = Create(dev, "n");
        var inp = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(inp, 16);
        GetNameRaw(s, inp, out long rc);
        Assert.Equal(E(Errno.EINVAL), rc);
        BinaryPrimitives.WriteUInt32LittleEndian(inp, 72);
        inp[40] = 7;
        var got = GetNameRaw(s, inp, out rc);
        Assert.Equal(0, rc);
        Assert.Equal(7, got[40]);
    }
}
