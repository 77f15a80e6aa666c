using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of LuoFlb.cs (`core` chunk): FLB registration and
/// unregistration (users, the global list), the outgoing lifecycle (module pin, undo of earlier FLBs in reverse,
/// the data/obj given to unpreserve), get_outgoing, the incoming lifecycle (data/obj given to retrieve and
/// finish, the refcount underflow) and hostile FLB pages (entries beyond count or 63, duplicates) — luo.md §2.5,
/// §5.5.</summary>
public class FlbSurvivorTests : LuoTestBase
{
    private TestFileHandler H => K.TestHandler!;

    private int PreserveTestFile(int session, ulong token) => (int)LuoSyscalls.PreserveFd(K, P, session, (int)K.CreateTestFile(P, token), token);

    [Fact]
    public void Register_rejects_null_arguments()
    {
        Assert.Throws<ArgumentNullException>(() => K.Luo.RegisterFlb(null!, new RecordingFlb("f")));
        Assert.Throws<ArgumentNullException>(() => K.Luo.RegisterFlb(H, null!));
        Assert.Throws<ArgumentNullException>(() => K.Luo.UnregisterFlb(null!, new RecordingFlb("f")));
        Assert.Throws<ArgumentNullException>(() => K.Luo.UnregisterFlb(H, null!));
        Assert.Throws<ArgumentNullException>(() => K.Luo.FlbGetOutgoing(null!, out _));
        Assert.Throws<ArgumentNullException>(() => K.Luo.FlbGetIncoming(null!, out _));
        Assert.Throws<ArgumentNullException>(() => K.Luo.FlbPutIncoming(null!));
    }

    [Fact]
    public void Register_needs_a_registered_handler_and_all_ops()
    {
        Assert.Equal(Errno.EINVAL, K.Luo.RegisterFlb(new PlainHandler("never-registered"), new RecordingFlb("f")));
        Assert.Equal(Errno.EINVAL, K.Luo.RegisterFlb(H, new RecordingFlb("g") { MissingOps = true }));
        Assert.Empty(K.Luo.Flbs);
    }

    [Fact]
    public void Users_count_links_and_the_last_unlink_leaves_the_global_list()
    {
        var other = new PlainHandler("other-v1");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(other));
        var flb = new RecordingFlb("shared");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(H, flb));
        Assert.Equal(1, flb.Users);
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(other, flb));
        Assert.Equal(2, flb.Users);
        Assert.Equal([flb], K.Luo.Flbs);

        K.Luo.UnregisterFlb(new PlainHandler("not-linked"), flb); // warns, changes nothing
        Assert.Equal(2, flb.Users);
        K.Luo.UnregisterFlb(H, flb);
        Assert.Equal(1, flb.Users);
        Assert.Equal([flb], K.Luo.Flbs);
        K.Luo.UnregisterFlb(H, flb);                              // no longer linked to H: no second decrement
        Assert.Equal(1, flb.Users);
        K.Luo.UnregisterFlb(other, flb);
        Assert.Equal(0, flb.Users);
        Assert.Empty(K.Luo.Flbs);
    }

    [Fact]
    public void Flb_module_going_away_fails_preserve_with_ENODEV()
    {
        var flb = new RecordingFlb("gone") { GoingAway = true };
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(H, flb));
        int s = Create(OpenDev(), "s");
        Assert.Equal(E(Errno.ENODEV), PreserveTestFile(s, 1));
        Assert.Empty(flb.Calls);
        Assert.Equal(0, flb.OutgoingCount);
    }

    [Fact]
    public void Failed_flb_preserve_undoes_the_earlier_flbs_in_reverse()
    {
        var log = new List<string>();
        var a = new RecordingFlb("a") { Calls = log };
        var b = new RecordingFlb("b") { Calls = log };
        var c = new RecordingFlb("c") { Calls = log, PreserveResult = Errno.ENOSPC };
        foreach (var f in new[] { a, b, c }) Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(H, f));
        int s = Create(OpenDev(), "s");
        Assert.Equal(E(Errno.ENOSPC), PreserveTestFile(s, 1));
        Assert.Equal(["preserve a", "preserve b", "preserve c", "unpreserve b", "unpreserve a"], log);
        Assert.Equal((0L, 0UL, (object?)null), (a.OutgoingCount, a.OutgoingData, a.OutgoingObj));
        Assert.Equal(0, b.OutgoingCount);
        Assert.Equal((a.DataToPreserve, (object?)a.ObjToPreserve), a.Unpreserved);
        Assert.DoesNotContain(H.Log, r => r.Op == TestOp.Preserve); // the handler's preserve never ran
    }

    [Fact]
    public void Get_outgoing_and_unpreserve_see_what_preserve_stored()
    {
        var flb = new RecordingFlb("out");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(H, flb));
        Assert.Equal(Errno.Ok, K.Luo.FlbGetOutgoing(flb, out object? none));
        Assert.Null(none);
        int s = Create(OpenDev(), "s");
        Assert.Equal(0, PreserveTestFile(s, 1));
        Assert.Equal(0, PreserveTestFile(s, 2));
        Assert.Equal(2, flb.OutgoingCount);
        Assert.Equal(Errno.Ok, K.Luo.FlbGetOutgoing(flb, out object? obj));
        Assert.Same(flb.ObjToPreserve, obj);
        Assert.Equal(0, K.Close(P, s));
        Assert.Equal(["preserve out", "unpreserve out"], flb.Calls);
        Assert.Equal((flb.DataToPreserve, (object?)flb.ObjToPreserve), flb.Unpreserved);
        Assert.Equal(Errno.Ok, K.Luo.FlbGetOutgoing(flb, out object? after));
        Assert.Null(after);
    }

    [Fact]
    public void Flb_getters_are_EOPNOTSUPP_when_luo_is_disabled()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { DramBytes = 1UL << 30, Liveupdate = "off" });
        var flb = new RecordingFlb("x");
        Assert.Equal(Errno.EOPNOTSUPP, K.Luo.FlbGetOutgoing(flb, out object? o));
        Assert.Null(o);
        Assert.Equal(Errno.EOPNOTSUPP, K.Luo.FlbGetIncoming(flb, out object? i));
        Assert.Null(i);
        Assert.Equal(Errno.EOPNOTSUPP, K.Luo.RegisterFlb(new PlainHandler("p"), flb));
    }

    /// <summary>Preserves one test file whose handler links FLB "kept", reboots, lets <paramref name="edit"/>
    /// rewrite the FLB page, boots the next kernel and links a fresh "kept" FLB there.</summary>
    private RecordingFlb HandOver(Action<ulong>? edit = null)
    {
        var flb = new RecordingFlb("kept") { DataToPreserve = 0xABCD };
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(H, flb));
        int s = Create(OpenDev(), "s");
        Assert.Equal(0, PreserveTestFile(s, 1));
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        edit?.Invoke(K.Luo.OutFlbPhys);
        K = K.Kexec();
        Assert.False(K.Panicked, K.Outcome.PanicReason);
        P = K.CreateProcess();
        var next = new RecordingFlb("kept");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(H, next));
        return next;
    }

    [Fact]
    public void Incoming_retrieve_and_finish_get_the_handed_over_data_and_object()
    {
        var flb = HandOver();
        Assert.Equal(Errno.Ok, K.Luo.FlbGetIncoming(flb, out object? obj));
        Assert.Same(flb.RetrievedObj, obj);
        Assert.Equal((0xABCDUL, (object?)null), flb.Retrieved);
        Assert.Equal(2, flb.IncomingCount); // serialized count 1 + the caller's reference
        K.Luo.FlbPutIncoming(flb);
        Assert.DoesNotContain(flb.Calls, c => c.StartsWith("finish", StringComparison.Ordinal));
        K.Luo.FlbPutIncoming(flb);
        Assert.Equal((0xABCDUL, (object?)flb.RetrievedObj), flb.Finished);
        Assert.Equal((true, 0UL, (object?)null), (flb.IncomingFinished, flb.IncomingData, flb.IncomingObj));
        Assert.Equal(Errno.ENODATA, K.Luo.FlbGetIncoming(flb, out _));
    }

    [Fact]
    public void File_finish_without_get_incoming_underflows_and_never_finishes_the_flb()
    {
        var flb = HandOver();
        int dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "s", out int rs));
        Assert.Equal(0, LuoSyscalls.Finish(K, P, rs));
        Assert.Equal((1, -1L, false), (flb.IncomingUnderflows, flb.IncomingCount, flb.IncomingFinished));
        Assert.Empty(flb.Calls);
    }

    private static void WriteEntries(PhysicalArena arena, ulong page, ulong count, params (string Name, ulong Data)[] entries)
    {
        Span<byte> b = stackalloc byte[LuoFlbSer.Size];
        new LuoFlbHeaderSer(LuoFlbHeaderSer.FlbPageCount, count).WriteTo(b);
        arena.Write(page, b[..LuoFlbHeaderSer.Size]);
        for (int i = 0; i < entries.Length; i++)
        {
            new LuoFlbSer(entries[i].Name, entries[i].Data, 1).WriteTo(b);
            int at = LuoFlbHeaderSer.Size + (i * LuoFlbSer.Size);
            arena.Write(page + (ulong)at, b[..Math.Min(LuoFlbSer.Size, PhysicalArena.PageSize - at)]); // slot 63 only has its name in the page
        }
    }

    [Fact]
    public void Retrieve_finds_a_later_entry_at_its_own_slot()
    {
        var flb = HandOver(p => WriteEntries(K.Arena, p, 3, ("a", 1), ("kept", 0x22), ("c", 3)));
        Assert.Equal(Errno.Ok, K.Luo.FlbGetIncoming(flb, out _));
        Assert.Equal(0x22UL, flb.Retrieved.Data);
    }

    [Fact]
    public void Retrieve_takes_the_first_of_duplicate_entries()
    {
        var flb = HandOver(p => WriteEntries(K.Arena, p, 2, ("kept", 0xA), ("kept", 0xB)));
        Assert.Equal(Errno.Ok, K.Luo.FlbGetIncoming(flb, out _));
        Assert.Equal(0xAUL, flb.Retrieved.Data);
    }

    [Fact]
    public void Retrieve_ignores_entries_beyond_the_header_count()
    {
        var flb = HandOver(p => WriteEntries(K.Arena, p, 1, ("a", 1), ("kept", 0x22)));
        Assert.Equal(Errno.ENOENT, K.Luo.FlbGetIncoming(flb, out object? obj));
        Assert.Null(obj);
        Assert.Empty(flb.Calls);
    }

    [Fact]
    public void Retrieve_reads_at_most_63_entries_whatever_the_count()
    {
        var entries = Enumerable.Range(0, LuoFlbHeaderSer.MaxEntries).Select(i => ($"f{i}", (ulong)i)).Append(("kept", 0x63UL)).ToArray();
        var flb = HandOver(p => WriteEntries(K.Arena, p, 1000, entries));
        Assert.Equal(Errno.ENOENT, K.Luo.FlbGetIncoming(flb, out _));
        Assert.Empty(flb.Calls);
    }
}
