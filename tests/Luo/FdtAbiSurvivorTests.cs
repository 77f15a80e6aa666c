using System.Buffers.Binary;
using LuoModel.Fdt;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of LuoFdtAbi.cs (`handlers` chunk): the FDT-era
/// "luo-v1" late init (allocation order and undo, FLB page count) and every early-boot check of the incoming
/// root FDT (luo.md §5.8), with the exact panic reason of each failure.</summary>
public class FdtAbiSurvivorTests : LuoTestBase
{
    private static KernelConfig FdtConfig(FaultInjector? faults = null) =>
        new() { Luo = new LuoOptions { Abi = LuoAbi.FdtV1 }, DramBytes = 1UL << 30, Faults = faults ?? new FaultInjector() };

    public FdtAbiSurvivorTests() : base(FdtConfig()) { }

    private static readonly byte[] Absent = [];

    private static byte[] U64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    /// <summary>A root FDT shaped like §5.8 with each part replaceable; <see cref="Absent"/> (or a null node
    /// compatible) leaves a property or node out.</summary>
    private static byte[] RootFdt(string compatible, byte[] number, string? sessionCompatible, byte[] sessionHeader,
        bool flbNode, byte[] flbHeader)
    {
        var buf = new byte[PhysicalArena.PageSize];
        using var w = new FdtWriter();
        Assert.Equal(0, w.Create(buf, buf.Length));
        Assert.Equal(0, w.FinishReservemap());
        Assert.Equal(0, w.BeginNode(""));
        Assert.Equal(0, w.PropertyString("compatible", compatible));
        if (number.Length > 0) Assert.Equal(0, w.Property("liveupdate-number", number));
        if (sessionCompatible is not null)
        {
            Assert.Equal(0, w.BeginNode("luo-session"));
            Assert.Equal(0, w.PropertyString("compatible", sessionCompatible));
            if (sessionHeader.Length > 0) Assert.Equal(0, w.Property("luo-session-header", sessionHeader));
            Assert.Equal(0, w.EndNode());
        }
        if (flbNode)
        {
            Assert.Equal(0, w.BeginNode("luo-flb"));
            Assert.Equal(0, w.PropertyString("compatible", "luo-flb-v1"));
            if (flbHeader.Length > 0) Assert.Equal(0, w.Property("luo-flb-header", flbHeader));
            Assert.Equal(0, w.EndNode());
        }
        Assert.Equal(0, w.EndNode());
        Assert.Equal(0, w.Finish());
        return buf;
    }

    /// <summary>Creates one session with one memfd, reboots, then replaces the handed-over root FDT with the
    /// one <paramref name="make"/> builds from (session area, FLB page) and boots the next kernel.</summary>
    private Kernel.Kernel KexecWithRoot(Func<ulong, ulong, byte[]> make)
    {
        int dev = OpenDev();
        int s = Create(dev, "kept");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 3, "three"));
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        K.Arena.Write(K.Luo.OutRootPhys, make(K.Luo.FdtSessionArea, K.Luo.OutFlbPhys));
        return K.Kexec();
    }

    private static byte[] Valid(ulong area, ulong flb) => RootFdt("luo-v1", U64(7), "luo-session-v2", U64(area), true, U64(flb));

    private void AssertPanics(string reason, Func<ulong, ulong, byte[]> make)
    {
        var next = KexecWithRoot(make);
        Assert.True(next.Panicked);
        Assert.Equal(reason, next.Outcome.PanicReason);
    }

    [Fact]
    public void Late_init_allocates_session_area_flb_page_and_root_fdt_in_that_order()
    {
        var faults = new FaultInjector { Logging = true };
        K = Kernel.Kernel.ColdBoot(FdtConfig(faults));
        Assert.Equal(["fdt session area", "flb page", "luo fdt"],
            faults.Log.Where(c => c.Point == FaultPoint.KhoAllocPreserve).Select(c => c.Detail));
        // §5.5: the FLB page header carries pgcnt = 1 from late init on (before any reboot rewrites it)
        Assert.Equal(LuoFlbHeaderSer.FlbPageCount, K.Arena.ReadU64(K.Luo.OutFlbPhys));
        Assert.Equal(0UL, K.Arena.ReadU64(K.Luo.OutFlbPhys + 8));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Late_init_allocation_failure_disables_luo_and_frees_what_it_had_allocated(int nth)
    {
        var clean = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { Abi = LuoAbi.FdtV1 }, DramBytes = 1UL << 30, Liveupdate = "off" });
        var faults = new FaultInjector().FailNth(FaultPoint.KhoAllocPreserve, nth, Errno.ENOMEM);
        K = Kernel.Kernel.ColdBoot(FdtConfig(faults));
        Assert.False(K.Luo.Enabled);
        Assert.Equal(0UL, K.Luo.OutRootPhys);
        Assert.Equal(0UL, K.Luo.FdtSessionArea);
        Assert.Equal(clean.Kho.PreservedBlocks().Count(), K.Kho.PreservedBlocks().Count());
        Assert.Empty(K.Kho.OutgoingSubtreeNames());
    }

    [Fact]
    public void Valid_root_hands_over_number_sessions_and_the_flb_page()
    {
        ulong flb = K.Luo.OutFlbPhys;
        var next = KexecWithRoot(Valid);
        Assert.False(next.Panicked, next.Outcome.PanicReason);
        Assert.Equal(7UL, next.Luo.LiveupdateNum);
        Assert.Equal(flb, next.Luo.IncomingFlbPa);
        Assert.NotEqual(0UL, next.Luo.FdtIncomingSessionArea);
        Assert.True(next.Luo.Incoming.Active);
        Assert.Null(next.Luo.Incoming.Blocks); // the FDT era has no session block set
        Assert.Null(next.Luo.Outgoing.Blocks);
    }

    [Fact]
    public void Bad_fdt_header_panics() =>
        AssertPanics("luo_restore_fail: bad LUO FDT header", (_, _) => new byte[PhysicalArena.PageSize]);

    [Fact]
    public void Wrong_root_compatible_panics() =>
        AssertPanics("luo_restore_fail: root compatible is not luo-v1",
            (a, f) => RootFdt("luo-v2", U64(1), "luo-session-v2", U64(a), true, U64(f)));

    [Fact]
    public void Missing_liveupdate_number_panics() =>
        AssertPanics("luo_restore_fail: liveupdate-number",
            (a, f) => RootFdt("luo-v1", Absent, "luo-session-v2", U64(a), true, U64(f)));

    [Fact]
    public void Liveupdate_number_of_4_bytes_panics() =>
        AssertPanics("luo_restore_fail: liveupdate-number",
            (a, f) => RootFdt("luo-v1", [1, 0, 0, 0], "luo-session-v2", U64(a), true, U64(f)));

    [Fact]
    public void Missing_session_node_panics() =>
        AssertPanics("luo_restore_fail: luo-session node",
            (_, f) => RootFdt("luo-v1", U64(1), null, Absent, true, U64(f)));

    [Fact]
    public void Session_node_with_v1_compatible_panics() =>
        AssertPanics("luo_restore_fail: luo-session node",
            (a, f) => RootFdt("luo-v1", U64(1), "luo-session-v1", U64(a), true, U64(f)));

    [Fact]
    public void Missing_session_header_panics() =>
        AssertPanics("luo_restore_fail: luo-session-header",
            (_, f) => RootFdt("luo-v1", U64(1), "luo-session-v2", Absent, true, U64(f)));

    [Fact]
    public void Session_header_of_4_bytes_panics() =>
        AssertPanics("luo_restore_fail: luo-session-header",
            (_, f) => RootFdt("luo-v1", U64(1), "luo-session-v2", [0, 0x10, 0, 0], true, U64(f)));

    [Fact]
    public void Missing_flb_node_panics_with_ENOENT() =>
        AssertPanics("luo_restore_fail: luo-flb node missing (-ENOENT)",
            (a, _) => RootFdt("luo-v1", U64(1), "luo-session-v2", U64(a), false, Absent));

    [Fact]
    public void Flb_header_that_is_not_8_bytes_is_ignored()
    {
        var next = KexecWithRoot((a, _) => RootFdt("luo-v1", U64(1), "luo-session-v2", U64(a), true, [1, 2, 3, 4]));
        Assert.False(next.Panicked, next.Outcome.PanicReason);
        Assert.Equal(0UL, next.Luo.IncomingFlbPa);
        Assert.True(next.Luo.Incoming.Active);
    }

    [Fact]
    public void Flb_node_without_header_property_is_accepted()
    {
        var next = KexecWithRoot((a, _) => RootFdt("luo-v1", U64(1), "luo-session-v2", U64(a), true, Absent));
        Assert.False(next.Panicked, next.Outcome.PanicReason);
        Assert.Equal(0UL, next.Luo.IncomingFlbPa);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL << 40)]                       // past the end of memory
    [InlineData((1UL << 30) - 4096)]              // last page: the 16-page area would run past the end
    public void Session_area_that_is_null_or_outside_memory_means_no_incoming_sessions(ulong area)
    {
        var next = KexecWithRoot((_, f) => RootFdt("luo-v1", U64(1), "luo-session-v2", U64(area), true, U64(f)));
        Assert.False(next.Panicked, next.Outcome.PanicReason);
        Assert.Equal(0UL, next.Luo.FdtIncomingSessionArea);
        Assert.False(next.Luo.Incoming.Active);
        K = next;
        P = K.CreateProcess();
        int dev = OpenDev();
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveSession(K, P, dev, "kept", out _));
    }

    [Fact]
    public void Root_fdt_outside_memory_panics()
    {
        OpenDev();
        K.Kho.RemoveSubtree(K.Luo.OutRootPhys); // kho-v1: the FDT naming the subtrees is built at kho_finalize()
        Assert.Equal(Errno.Ok, K.Kho.AddSubtree(Kernel.Luo.KhoEntryName, 1UL << 40, PhysicalArena.PageSize));
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        var next = K.Kexec();
        Assert.True(next.Panicked);
        Assert.Equal("luo_restore_fail: LUO FDT outside memory", next.Outcome.PanicReason);
    }

    [Fact]
    public void Kho_lookup_error_other_than_ENOENT_panics()
    {
        var next = KexecWithLuoKhoProperty("fdt", [1, 2, 3, 4]); // kho-v1: the subtree pointer is not 8 bytes
        Assert.True(next.Panicked);
        Assert.Equal("luo_restore_fail: kho_retrieve_subtree(\"LUO\") = -EINVAL", next.Outcome.PanicReason);
    }
}
