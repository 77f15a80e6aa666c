using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Reliability;

/// <summary>
/// Hard limits (issue 9 §4): the 10000-block chain of a block set (luo.md §2.6: 510,000 sessions, 630,000 files
/// per session), the 63 FLBs of the FLB page (§2.5), session names (§3.4 step 3) and tokens (§3.6 step 1).
/// Each limit gives its exact errno, changes nothing, and the next call succeeds once there is room.
/// </summary>
public class ExhaustionLimitTests
{
    private static long E(Errno e) => ExhaustionKit.E(e);

    /// <summary>Raw ioctls from one user buffer (the typed wrappers allocate per call; these loops make up to
    /// 630,001 calls).</summary>
    private sealed class RawCalls(ExhaustionKit x)
    {
        private readonly ulong _buf = x.P.Memory.Map(ExhaustionKit.Page, Prot.Read | Prot.Write);

        public long Create(int dev, int n)
        {
            Span<byte> b = stackalloc byte[LiveupdateUapi.SessionStructSize];
            b.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.SessionStructSize);
            n.TryFormat(b[LiveupdateUapi.NameOffset..], out _, "x8");   // 8 hex digits: distinct, NUL-padded
            x.P.Memory.Poke(_buf, b);
            return x.K.Ioctl(x.P, dev, LiveupdateUapi.CreateSession, _buf);
        }

        public long Preserve(int session, int fd, ulong token)
        {
            Span<byte> b = stackalloc byte[LiveupdateUapi.FdStructSize];
            BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FdStructSize);
            BinaryPrimitives.WriteInt32LittleEndian(b[LiveupdateUapi.FdOffset..], fd);
            BinaryPrimitives.WriteUInt64LittleEndian(b[LiveupdateUapi.TokenOffset..], token);
            x.P.Memory.Poke(_buf, b);
            return x.K.Ioctl(x.P, session, LiveupdateUapi.PreserveFd, _buf);
        }
    }

    private const int MaxSessions = KhoBlockSet.MaxBlocks * 51, MaxFiles = KhoBlockSet.MaxBlocks * 63;

    /// <summary>LUO_EXHAUSTION_FULL=1 runs the chain limits with real counts through syscalls (510,001 creates,
    /// 630,001 preserves: about 20 s each on 2 shared cores); CI reaches the same ENOSPC at the next grow with the
    /// fault injector, and the 10000-block limit itself with real blocks in
    /// <see cref="Block_set_grow_enospc_and_enomem_roll_back"/>.</summary>
    private static bool Full => Environment.GetEnvironmentVariable("LUO_EXHAUSTION_FULL") == "1";

    /// <summary>510,000 sessions fill exactly 10000 session blocks; the next CREATE_SESSION allocates the
    /// 10001st page, gives it back and fails ENOSPC with nothing changed; closing one session makes room.</summary>
    [Fact]
    public void Session_chain_limit_is_enospc_at_510001_sessions()
    {
        var x = new ExhaustionKit(128);
        int dev = x.OpenDev();
        int max = Full ? MaxSessions : 51;
        Assert.Equal(0, x.K.SetrlimitNofile(x.P, (ulong)max + 16, (ulong)max + 16));
        var raw = new RawCalls(x);
        for (int i = 0; i < max; i++) if (raw.Create(dev, i) != 0) Assert.Fail($"create {i}");
        var blocks = x.K.Luo.Outgoing.Blocks!;
        Assert.Equal(max / 51, blocks.BlockCount);
        if (!Full) x.K.Faults.FailNext(FaultPoint.SessionBlockGrow, Errno.ENOSPC);
        int free = x.FreePages;
        var keys = x.K.Kho.PreservedBlocks().Count;
        int fds = x.P.FdCount;
        Assert.Equal(E(Errno.ENOSPC), raw.Create(dev, max));
        if (!Full) x.K.Faults.FailNext(FaultPoint.SessionBlockGrow, Errno.ENOSPC);
        Assert.Equal(E(Errno.ENOSPC), raw.Create(dev, 0));      // the grow comes before the duplicate check
        Assert.Equal(max / 51, blocks.BlockCount);
        Assert.Equal(max, x.K.Luo.Outgoing.Count);
        Assert.Equal(free, x.FreePages);
        Assert.Equal(keys, x.K.Kho.PreservedBlocks().Count);
        Assert.Equal(fds, x.P.FdCount);
        int victim = dev + 1 + (max / 2);                       // sessions take the fds after /dev/liveupdate in order
        Assert.Equal((max / 2).ToString("x8", System.Globalization.CultureInfo.InvariantCulture), ((SessionFile)x.P.FileOf(victim)!).Session.Name);
        Assert.Equal(0, x.K.Close(x.P, victim));
        Assert.Equal(0, raw.Create(dev, max));
        if (!Full) x.K.Faults.FailNext(FaultPoint.SessionBlockGrow, Errno.ENOSPC);
        Assert.Equal(E(Errno.ENOSPC), raw.Create(dev, max + 1));
    }

    /// <summary>630,000 files fill exactly 10000 file blocks of one session; the 630,001st PRESERVE_FD fails
    /// ENOSPC (after the token check, before the fd lookup), nothing changes; another session still takes files.</summary>
    [Fact]
    public void File_chain_limit_is_enospc_at_630001_files()
    {
        var x = new ExhaustionKit(128);
        int dev = x.OpenDev();
        int s = x.Create(dev, "big");
        var raw = new RawCalls(x);
        int max = Full ? MaxFiles : 63;
        for (int i = 0; i < max; i++)
        {
            int t = (int)x.K.CreateTestFile(x.P, (ulong)i);
            if (raw.Preserve(s, t, (ulong)i) != 0) Assert.Fail($"preserve {i}");
            x.K.Close(x.P, t);
        }
        var blocks = x.K.Luo.Outgoing.Sessions[0].FileBlocks!;
        Assert.Equal(max / 63, blocks.BlockCount);
        int extra = (int)x.K.CreateTestFile(x.P, 0xE);
        var before = x.Snap();
        Assert.Equal(E(Errno.EEXIST), raw.Preserve(s, extra, 7));        // token check first (step 1)
        if (!Full) x.K.Faults.FailNext(FaultPoint.FileBlockGrow, Errno.ENOSPC);
        Assert.Equal(E(Errno.ENOSPC), raw.Preserve(s, extra, (ulong)max));
        if (!Full) x.K.Faults.FailNext(FaultPoint.FileBlockGrow, Errno.ENOSPC);
        Assert.Equal(E(Errno.ENOSPC), raw.Preserve(s, 4242, (ulong)max));  // ENOSPC before EBADF (step 2 < 3)
        Assert.Equal(before, x.Snap());
        int s2 = x.Create(dev, "other");
        Assert.Equal(0, raw.Preserve(s2, extra, (ulong)max));
    }

    /// <summary>The block set itself (kho_block_set_grow): the 10001st block is allocated, preserved, then
    /// unpreserved and freed before ENOSPC; a grow that runs out of memory half-way removes the blocks it
    /// added (ENOMEM). Cheap enough to run with both limits in one arena.</summary>
    [Fact]
    public void Block_set_grow_enospc_and_enomem_roll_back()
    {
        var x = new ExhaustionKit(64);
        var set = new KhoBlockSet(x.K.Kho, x.K.Faults, FaultPoint.FileBlockGrow, LuoFileSer.Size);
        Assert.Equal(Errno.Ok, set.Grow(MaxFiles));
        Assert.Equal(KhoBlockSet.MaxBlocks, set.BlockCount);
        int free = x.FreePages;
        var keys = x.K.Kho.PreservedBlocks();
        Assert.Equal(Errno.ENOSPC, set.Grow(MaxFiles + 1));
        Assert.Equal(KhoBlockSet.MaxBlocks, set.BlockCount);
        Assert.Equal(free, x.FreePages);
        Assert.Equal(keys, x.K.Kho.PreservedBlocks());
        set.Shrink(MaxFiles - 63);
        Assert.Equal(KhoBlockSet.MaxBlocks - 1, set.BlockCount);
        Assert.Equal(Errno.Ok, set.Grow(MaxFiles));
        set.Destroy();
        Assert.Equal(0, set.BlockCount);
        // ENOMEM in the middle of a multi-block grow: the blocks added by this call are removed again
        x.Exhaust();
        x.SetFree(2);
        Assert.Equal(Errno.ENOMEM, set.Grow(3 * 63));
        Assert.Equal(0, set.BlockCount);
        Assert.Equal(2, x.FreePages);
        x.SetFree(3);
        Assert.Equal(Errno.Ok, set.Grow(3 * 63));
        Assert.Equal(0, x.FreePages);
    }

    [Fact]
    public void Flb_limit_63_is_enospc_with_nothing_changed_and_all_63_are_handed_over()
    {
        var x = new ExhaustionKit();
        var luo = x.K.Luo;
        var h = x.K.TestHandler!;
        var memfd = luo.FindHandler("memfd-v2")!;
        var flbs = Enumerable.Range(0, 63).Select(i => new LimitFlb($"limit-flb-{i}")).ToList();
        foreach (var f in flbs) Assert.Equal(Errno.Ok, luo.RegisterFlb(h, f));
        var extra = new LimitFlb("limit-flb-63");
        Assert.Equal(Errno.ENOSPC, luo.RegisterFlb(h, extra));
        Assert.Equal(Errno.ENOSPC, luo.RegisterFlb(memfd, extra));
        Assert.Equal(63, luo.Flbs.Count);
        Assert.Equal(63, h.LinkedFlbs.Count);
        Assert.Equal(0, extra.Users);
        // linking a registered FLB to another handler is no new FLB: allowed at the limit
        Assert.Equal(Errno.Ok, luo.RegisterFlb(memfd, flbs[0]));
        luo.UnregisterFlb(memfd, flbs[0]);
        // one file of the test handler takes all 63; the FLB page then holds 63 entries (16 + 63·64 = 4048 bytes)
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        int t = (int)x.K.CreateTestFile(x.P, 1);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, t, 1));
        Assert.All(flbs, f => Assert.Equal(1, f.OutgoingCount));
        ulong flbPage = luo.OutFlbPhys;
        Assert.Equal(0, x.K.Reboot(x.P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(63UL, x.K.Arena.ReadU64(flbPage + 8));
        for (int i = 0; i < 63; i++)
        {
            var name = x.K.Arena.PageForRead(flbPage >> 12).Slice(16 + (64 * i), 48);
            Assert.Equal($"limit-flb-{i}", LuoStrings.FromField(name));
        }
    }

    /// <summary>A second boot with free FLB room: unregistering one makes the 64th registration succeed.</summary>
    [Fact]
    public void Flb_room_returns_after_unregister()
    {
        var x = new ExhaustionKit();
        var h = x.K.TestHandler!;
        var flbs = Enumerable.Range(0, 63).Select(i => new LimitFlb($"f{i}")).ToList();
        foreach (var f in flbs) Assert.Equal(Errno.Ok, x.K.Luo.RegisterFlb(h, f));
        Assert.Equal(Errno.ENOSPC, x.K.Luo.RegisterFlb(h, new LimitFlb("f63")));
        x.K.Luo.UnregisterFlb(h, flbs[5]);
        Assert.Equal(Errno.Ok, x.K.Luo.RegisterFlb(h, new LimitFlb("f63")));
        Assert.Equal(Errno.ENOSPC, x.K.Luo.RegisterFlb(h, new LimitFlb("f64")));
    }

    private sealed class LimitFlb(string name) : LiveupdateFlb(name)
    {
        public override Errno Preserve(LiveupdateFlbOpArgs args) { args.Data = 0xF1B; return Errno.Ok; }
        public override void Unpreserve(LiveupdateFlbOpArgs args) { }
        public override Errno Retrieve(LiveupdateFlbOpArgs args) { args.Obj = args.Data; return Errno.Ok; }
        public override void Finish(LiveupdateFlbOpArgs args) { }
    }

    private static byte[] NameStruct(ReadOnlySpan<byte> name)
    {
        var b = new byte[LiveupdateUapi.SessionStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.SessionStructSize);
        name.CopyTo(b.AsSpan(LiveupdateUapi.NameOffset));
        return b;
    }

    [Fact]
    public void Session_name_limits()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        var before = x.Snap();
        byte[] n64 = [.. Enumerable.Repeat((byte)'n', 64)];
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(x.K, x.P, dev, LiveupdateUapi.CreateSession, NameStruct(n64)));  // no NUL
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RawIoctl(x.K, x.P, dev, LiveupdateUapi.CreateSession, NameStruct([]))); // empty
        Assert.Equal(before, x.Snap());
        // 63 bytes + NUL is the longest name; any byte value but NUL is allowed
        byte[] n63 = [.. Enumerable.Range(0, 63).Select(i => (byte)(0x80 + i))];
        var b = NameStruct(n63);
        Assert.Equal(0, LuoSyscalls.RawIoctl(x.K, x.P, dev, LiveupdateUapi.CreateSession, b));
        int s63 = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset));
        // bytes after the NUL are ignored: "ab\0x" and "ab\0y" are the same name
        Assert.Equal(0, LuoSyscalls.RawIoctl(x.K, x.P, dev, LiveupdateUapi.CreateSession, NameStruct("ab\0x"u8)));
        var dup = x.Snap();
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.RawIoctl(x.K, x.P, dev, LiveupdateUapi.CreateSession, NameStruct("ab\0y"u8)));
        Assert.Equal(dup, x.Snap());
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s63, x.DataMemfd(1, 1), 1));
        x.KexecNext();
        int dev2 = x.OpenDev();
        var r = NameStruct(n63);
        Assert.Equal(0, LuoSyscalls.RawIoctl(x.K, x.P, dev2, LiveupdateUapi.RetrieveSession, r));
        int s2 = BinaryPrimitives.ReadInt32LittleEndian(r.AsSpan(LiveupdateUapi.FdOffset));
        var g = new byte[LiveupdateUapi.GetNameStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(g, LiveupdateUapi.GetNameStructSize);
        Assert.Equal(0, LuoSyscalls.RawIoctl(x.K, x.P, s2, LiveupdateUapi.GetName, g));
        Assert.Equal(n63, g.AsSpan(8, 63).ToArray());
        Assert.Equal(0, g[8 + 63]);
        // RETRIEVE_SESSION does not check the length (§3.5): a 64-byte unterminated name is simply not found
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RawIoctl(x.K, x.P, dev2, LiveupdateUapi.RetrieveSession, NameStruct(n64)));
    }

    [Fact]
    public void Token_limits_u64_extremes_and_reuse()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int a = x.Create(dev, "a");
        int b = x.Create(dev, "b");
        int m0 = x.DataMemfd(1, 1), m1 = x.DataMemfd(1, 2), m2 = x.DataMemfd(1, 3);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, a, m0, 0));
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, a, m1, ulong.MaxValue));
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, b, m2, ulong.MaxValue));     // tokens are per session
        var before = x.Snap();
        int m3 = x.DataMemfd(1, 4);
        before = x.Snap();
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.PreserveFd(x.K, x.P, a, m3, ulong.MaxValue));
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.PreserveFd(x.K, x.P, a, 999, 0));   // EEXIST beats EBADF
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.PreserveFd(x.K, x.P, a, m0, 5));     // same file, new token
        Assert.Equal(before, x.Snap());
        // a session's tokens are free again once it is closed
        int c = x.Create(dev, "c");
        Assert.Equal(0, x.K.Close(x.P, b));
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, c, m2, ulong.MaxValue));
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, c, m3, ulong.MaxValue - 1));
        byte[] d0 = x.Contents(m0), d1 = x.Contents(m1);
        x.KexecNext();
        int dev2 = x.OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "a", out int a2));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(x.K, x.P, a2, ulong.MaxValue, out int r1));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(x.K, x.P, a2, 0, out int r0));
        Assert.Equal(d1, x.Contents(r1));
        Assert.Equal(d0, x.Contents(r0));
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveFd(x.K, x.P, a2, 1, out _));
    }
}
