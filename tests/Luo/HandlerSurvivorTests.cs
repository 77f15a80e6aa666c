using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of the `handlers` chunk outside LuoFdtAbi.cs: the
/// fault injector's bookkeeping, the handler and FLB base classes (compatible length, absent optional ops,
/// luo.md §2.4/§2.5), the test handler's argument checks and log text, and golden bytes of the serialized
/// structs whose writers the reboot hot path bypasses (luo.md §5.3, §5.4, §6.4).</summary>
public class HandlerSurvivorTests : LuoTestBase
{
    /// <summary>Only the required ops: every optional op keeps the base class default.</summary>
    private sealed class MinimalHandler(string compatible) : LiveupdateFileHandler(compatible)
    {
        public override bool CanPreserve(OpenFile file) => false;
        public override Errno Preserve(LiveupdateFileOpArgs args) => Errno.Ok;
        public override void Unpreserve(LiveupdateFileOpArgs args) { }
        public override Errno Retrieve(LiveupdateFileOpArgs args) => Errno.ENOENT;
        public override void Finish(LiveupdateFileOpArgs args) { }
    }

    // ----- FaultInjector -----

    [Fact]
    public void Fault_rules_need_a_positive_call_number_and_repeat()
    {
        var f = new FaultInjector();
        Assert.Throws<ArgumentOutOfRangeException>(() => f.FailNth(FaultPoint.SessionAlloc, 0, Errno.ENOMEM));
        Assert.Throws<ArgumentOutOfRangeException>(() => f.FailNth(FaultPoint.SessionAlloc, 1, Errno.ENOMEM, repeat: 0));
        Assert.Empty(f.Rules);
    }

    [Fact]
    public void Fast_path_counts_every_check()
    {
        var f = new FaultInjector();
        for (int i = 0; i < 3; i++) Assert.Equal(Errno.Ok, f.Check(FaultPoint.FlbPreserve));
        Assert.Equal(3, f.Count(FaultPoint.FlbPreserve));
        Assert.Equal(0, f.Count(FaultPoint.SessionAlloc));
        Assert.Empty(f.Log);
    }

    [Fact]
    public void Reset_clears_rules_counters_and_log_while_clear_rules_keeps_counting()
    {
        var f = new FaultInjector { Logging = true }.FailNth(FaultPoint.SessionAlloc, 2, Errno.ENOMEM);
        Assert.Equal(Errno.Ok, f.Check(FaultPoint.SessionAlloc, "a"));
        f.Reset();
        Assert.Empty(f.Rules);
        Assert.Empty(f.Log);
        Assert.Equal(0, f.Count(FaultPoint.SessionAlloc));
        Assert.Equal(Errno.Ok, f.Check(FaultPoint.SessionAlloc));
        Assert.Equal(Errno.Ok, f.Check(FaultPoint.SessionAlloc)); // the 2nd call after Reset: the rule is gone

        f.FailNth(FaultPoint.SessionAlloc, 4, Errno.ENOMEM);
        f.ClearRules();
        Assert.Empty(f.Rules);
        Assert.Equal(Errno.Ok, f.Check(FaultPoint.SessionAlloc));
        Assert.Equal(3, f.Count(FaultPoint.SessionAlloc));
        Assert.Equal([1, 2, 3], f.Log.Select(c => c.Number));
    }

    [Fact]
    public void Void_operations_are_recorded_only_while_logging()
    {
        var f = new FaultInjector();
        f.Record("unpreserve x");
        Assert.Empty(f.Log);
        f.Logging = true;
        f.Record("finish y");
        Assert.Equal([new FaultCall(FaultPoint.VoidOp, 0, Errno.Ok, "finish y")], f.Log);
    }

    // ----- handler and FLB base classes -----

    [Fact]
    public void Handler_compatible_must_fit_47_bytes()
    {
        Assert.Equal(new string('c', 47), new MinimalHandler(new string('c', 47)).Compatible);
        var e = Assert.Throws<ArgumentException>(() => new MinimalHandler(new string('c', 48)));
        Assert.Equal("compatible", e.ParamName);
        Assert.StartsWith("compatible longer than 47 bytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => new MinimalHandler(null!));
    }

    [Fact]
    public void Flb_compatible_must_fit_47_bytes()
    {
        Assert.Equal(new string('f', 47), new RecordingFlb(new string('f', 47)).Compatible);
        var e = Assert.Throws<ArgumentException>(() => new RecordingFlb(new string('f', 48)));
        Assert.Equal("compatible", e.ParamName);
        Assert.StartsWith("compatible longer than 47 bytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => new RecordingFlb(null!));
    }

    [Fact]
    public void Absent_optional_ops_behave_as_documented()
    {
        var h = new MinimalHandler("minimal-v1");
        var args = new LiveupdateFileOpArgs(h);
        Assert.Equal((false, false, false, false), (h.HasFreeze, h.HasUnfreeze, h.HasCanFinish, h.HasGetId));
        Assert.Equal(Errno.Ok, h.Freeze(args));
        Assert.True(h.CanFinish(args));
        Assert.True(h.HasRequiredOps);
        Assert.False(h.ModuleGoingAway);
        int t = (int)K.CreateTestFile(P, 1);
        Assert.Same(P.FileOf(t), h.GetId(P.FileOf(t)!));
    }

    // ----- TestFileHandler -----

    [Fact]
    public void Test_handler_ops_reject_a_null_argument_block()
    {
        var h = K.TestHandler!;
        Assert.Throws<ArgumentNullException>(() => h.Preserve(null!));
        Assert.Throws<ArgumentNullException>(() => h.Unpreserve(null!));
        Assert.Throws<ArgumentNullException>(() => h.Freeze(null!));
        Assert.Throws<ArgumentNullException>(() => h.Unfreeze(null!));
        Assert.Throws<ArgumentNullException>(() => h.Retrieve(null!));
        Assert.Throws<ArgumentNullException>(() => h.CanFinish(null!));
        Assert.Throws<ArgumentNullException>(() => h.Finish(null!));
        Assert.Empty(h.Log);
    }

    [Fact]
    public void Test_handler_log_records_print_op_tag_token_and_result() =>
        Assert.Equal("Freeze(t, token 1f) = EBUSY", new TestOpRecord(TestOp.Freeze, 0x1F, "t", 0, 0, Errno.EBUSY).ToString());

    // ----- serialized structs -----

    private static byte[] Dirty(int n) => Enumerable.Repeat((byte)0xEE, n).ToArray();

    [Fact]
    public void Block_header_bytes()
    {
        var b = Dirty(KhoBlockHeaderSer.Size);
        new KhoBlockHeaderSer(0x1122_3344_5566_7788, 0x63).WriteTo(b);
        Assert.Equal(new byte[] { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x63, 0, 0, 0, 0, 0, 0, 0 }, b);
    }

    [Fact]
    public void Session_entry_bytes()
    {
        var b = Dirty(LuoSessionSer.Size);
        new LuoSessionSer("abc", 0xA000, 2).WriteTo(b);
        var want = new byte[LuoSessionSer.Size];
        "abc"u8.CopyTo(want);
        BinaryPrimitives.WriteUInt64LittleEndian(want.AsSpan(64), 0xA000);
        BinaryPrimitives.WriteUInt64LittleEndian(want.AsSpan(72), 2);
        Assert.Equal(want, b);
    }

    [Fact]
    public void File_entry_bytes()
    {
        var b = Dirty(LuoFileSer.Size);
        new LuoFileSer("memfd-v2", 0xDA7A, 0x42).WriteTo(b);
        var want = new byte[LuoFileSer.Size];
        "memfd-v2"u8.CopyTo(want);
        BinaryPrimitives.WriteUInt64LittleEndian(want.AsSpan(48), 0xDA7A);
        BinaryPrimitives.WriteUInt64LittleEndian(want.AsSpan(56), 0x42);
        Assert.Equal(want, b);
    }

    [Fact]
    public void To_field_zero_pads_and_truncates_like_strscpy()
    {
        var f = Dirty(8);
        LuoStrings.ToField("ab", f);
        Assert.Equal(new byte[] { (byte)'a', (byte)'b', 0, 0, 0, 0, 0, 0 }, f);
        var g = Dirty(4);
        LuoStrings.ToField("abcdef", g);
        Assert.Equal("abc\0"u8.ToArray(), g);
    }

    [Fact]
    public void Strn_equals_compares_the_whole_field_when_it_has_no_nul()
    {
        Assert.True(LuoStrings.StrnEquals("luo-v5\0\0"u8, "luo-v5"));
        Assert.True(LuoStrings.StrnEquals("abcd"u8, "abcd"));     // no NUL within n bytes: equal
        Assert.True(LuoStrings.StrnEquals("abcd"u8, "abcdef"));   // strncmp stops after n bytes
        Assert.False(LuoStrings.StrnEquals("abcd"u8, "abce"));
    }

    [Fact]
    public void Memfd_v1_record_bytes()
    {
        var b = Dirty(MemfdLuoSer.SizeV1);
        new MemfdLuoSer(0x10, 0x2000, 0xFFFF, 0xFFFF, 3, new KhoVmalloc(0x7000, 2, 1, 0)).WriteTo(b, MemfdVersion.V1);
        var want = new byte[MemfdLuoSer.SizeV1];
        BinaryPrimitives.WriteUInt64LittleEndian(want, 0x10);
        BinaryPrimitives.WriteUInt64LittleEndian(want.AsSpan(8), 0x2000);
        BinaryPrimitives.WriteUInt64LittleEndian(want.AsSpan(16), 3);          // nr_folios: v1 has no seals/flags
        BinaryPrimitives.WriteUInt64LittleEndian(want.AsSpan(24), 0x7000);     // kho_vmalloc.first
        BinaryPrimitives.WriteUInt32LittleEndian(want.AsSpan(32), 2);          // total_pages
        BinaryPrimitives.WriteUInt16LittleEndian(want.AsSpan(36), 1);          // flags
        Assert.Equal(want, b);
        Assert.Equal(new MemfdLuoSer(0x10, 0x2000, 0, 0, 3, new KhoVmalloc(0x7000, 2, 1, 0)), MemfdLuoSer.ReadFrom(b, MemfdVersion.V1));
    }

    [Fact]
    public void Memfd_v2_record_bytes_carry_seals_and_flags()
    {
        var b = Dirty(MemfdLuoSer.SizeV2);
        new MemfdLuoSer(0, 0x1000, 0x0A, 0x0B, 1, new KhoVmalloc(0x9000, 1, 1, 0)).WriteTo(b, MemfdVersion.V2);
        Assert.Equal(0x0Au, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(16)));
        Assert.Equal(0x0Bu, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(20)));
        Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(24)));
        Assert.Equal(0x9000UL, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(32)));
    }

    [Fact]
    public void Folio_entry_keeps_pfn_to_52_bits_and_flags_above()
    {
        var b = new byte[MemfdLuoFolioSer.Size];
        new MemfdLuoFolioSer((1UL << 52) | 0x123, MemfdLuoFolioSer.FlagUptodate, 7).WriteTo(b); // pfn bit 52 is cut off
        Assert.Equal((2UL << 52) | 0x123, BinaryPrimitives.ReadUInt64LittleEndian(b));
        Assert.Equal(7UL, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(8)));
        Assert.Equal(new MemfdLuoFolioSer(0x123, MemfdLuoFolioSer.FlagUptodate, 7), MemfdLuoFolioSer.ReadFrom(b));
    }
}
