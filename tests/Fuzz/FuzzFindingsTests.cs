using LuoModel.Fdt;
using LuoModel.Testkit.Fuzz;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Tests.Fuzz;

/// <summary>Regression tests for the crashes the fuzzers found (fuzz/README.md lists them), with the exact
/// result the fixed code returns.</summary>
public class FuzzFindingsTests
{
    /// <summary>Finding 1 (fdt target): vector bad-prop-len-wraps cut to 104 bytes (totalsize 0x8d). The property
    /// at structure offset 0x28 has length 0xfffffffc. With 1.6.1's 32-bit wrap the tag check passed while the
    /// 12-byte property header lay past the end of the 104-byte buffer, and GetPropByOffset/GetPropertyOffset
    /// threw ArgumentOutOfRangeException. Fixed twice: those two now report TRUNCATED when the header is past
    /// the buffer, and the token walker has libfdt 1.7.0's overflow guard (finding 2), so the walk already ends
    /// at that property with BADSTRUCTURE.</summary>
    private static readonly byte[] WrappedPropertyPastBuffer = Convert.FromHexString(
        "d00dfeed0000008d000000380000007c000000280000001100000010000000000000001100000044000000000000000000000000000000000000000100000000000000030000000800000000746573742d763100000000016368696c6400000000000003fffffffc");

    /// <summary>Finding 2 (fdt target, a hang): a property of length 0xfffffff4 (-12). In 32-bit arithmetic the
    /// next tag offset equals the property's own offset, so fdt_check_full, fdt_next_property_offset and every
    /// walker looped forever on it (as libfdt 1.6.1 does). The walker now applies 1.7.0's guard: offset + len at
    /// or past INT_MAX is a premature end, BADSTRUCTURE.</summary>
    private static readonly byte[] PropertyLengthMinus12 = Convert.FromHexString(
        "d00dfeed0000008d000000380000007c00000028000000110000001000000000000000110000008d00000000000000000000000000000000000000010000000000000003000000080000fe00746573742d763100000000016368696c6400000000000003fffffff40000000b00001234000000020000000200000009636f6d70617469626c65007600");

    [Fact]
    public void Truncated_wrapping_property_is_rejected_without_reading_past_the_buffer()
    {
        byte[] d = WrappedPropertyPastBuffer;
        Assert.Equal(104, d.Length);
        int child = FdtRo.SubnodeOffset(d, 0, "child");
        Assert.True(child > 0, $"child = {child}");
        Assert.Equal(FdtError.BadStructure.Neg(), FdtRo.FirstPropertyOffset(d, child));
        Assert.True(FdtRo.GetPropByOffset(d, 0x28, out _, out _, out int len) < 0 && len < 0);
        Assert.Equal(FdtError.BadStructure.Neg(), FdtRo.GetPropertyOffset(d, child, "compatible"u8, out len));
        Assert.Equal(FdtError.BadStructure.Neg(), FdtRo.StringListCount(d, child, "compatible"u8));
        Assert.Equal(FdtError.Truncated.Neg(), FdtRo.CheckFull(d));
        FuzzTargets.Fdt(d);
        FuzzTargets.Printers(d);
    }

    [Fact]
    public void Property_length_minus_12_ends_the_walk_instead_of_looping()
    {
        byte[] d = PropertyLengthMinus12;
        int child = FdtRo.SubnodeOffset(d, 0, "child");
        Assert.True(child > 0, $"child = {child}");
        Assert.Equal(FdtError.BadStructure.Neg(), FdtRo.FirstPropertyOffset(d, child));
        Assert.Equal(FdtConst.End, FdtRo.NextTag(d, 0x28, out int next));
        Assert.Equal(FdtError.BadStructure.Neg(), next);
        Assert.Equal(FdtError.Truncated.Neg(), FdtRo.CheckFull(d));   // 137 bytes, totalsize 141
        byte[] whole = [.. d, 0, 0, 0, 0];
        Assert.True(FdtRo.CheckFull(whole) < 0);   // size_dt_struct 0x8d runs past totalsize: TRUNCATED, and no endless walk
        FuzzTargets.Fdt(d);
        FuzzTargets.Printers(d);
        FuzzTargets.Fdt(whole);
        FuzzTargets.Printers(whole);
    }

    /// <summary>Finding 3 (kho-boot target, a hang): an incoming scratch entry whose address is not page-aligned
    /// (0xff, size 4 MiB) ends inside a page. Any allocation outside scratch then found a page overlapping the
    /// region, resumed at the region's end rounded down, which is that same page, and looped forever (the next
    /// kernel never finished kho_init). The search now resumes at the first page past the region.</summary>
    [Fact]
    public async Task Allocation_next_to_an_unaligned_scratch_region_terminates()
    {
        var a = new LuoModel.Kho.PageAllocator(new LuoModel.Kho.PhysicalArena(64UL << 20));
        a.AddScratch(new LuoModel.Kho.PhysRange(0xff, 0xff + (4UL << 20)));
        var t = Task.Run(() => a.TryAlloc(0, LuoModel.Kho.AllocFlags.None, out ulong pfn) ? pfn : ulong.MaxValue);
        ulong pfn = await t.WaitAsync(TimeSpan.FromSeconds(30));   // TimeoutException = the hang is back
        Assert.Equal(0x401UL, pfn);   // first page wholly past [0xff, 0x4000ff)
    }

    /// <summary>Finding 3 end to end: the demo handover with the first scratch entry's address set to 0xff boots
    /// (KHO accepts the entry; the map walk is then rejected or accepted as the bytes say) and hands over again.</summary>
    [Fact]
    public async Task Demo_handover_with_an_unaligned_scratch_entry_boots()
    {
        var h = LuoModel.Testkit.Handover.DemoHandover.Get();
        var arena = h.LoadArena();
        arena.WriteU64(h.Handoff.ScratchPhys, 0xff);
        var t = Task.Run(() => LuoModel.Testkit.Handover.HandoverObserver.Observe(h.Boot(arena)));
        var obs = await t.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Null(obs.Anomaly);
        byte[] seed = FuzzTargets.HandoverSeed(LuoModel.Kernel.LuoAbi.LuoV5, kho: true);
        int at = seed.Length - (int)h.Handoff.ScratchLen;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(seed.AsSpan(at), 0xff);
        FuzzTargets.KhoBoot(seed);
    }

    /// <summary>Finding 4 (luo-v1 target): in the FDT-era layout a session's file-area pointer (luo_session_ser
    /// files) outside DRAM made the first open of /dev/liveupdate throw ArgumentOutOfRangeException while
    /// reading the file entries (12 crashing inputs, e.g. 0x100126000). The kernel would dereference a wild
    /// pointer; the model now stops with a file-level EINVAL: every open fails EIO (luo.md §5.7, §8 inv. 17).</summary>
    [Theory]
    [InlineData(0x100126000UL)]
    [InlineData(0xf5ffffff00116000UL)]
    public void Fdt_era_file_area_outside_memory_gives_EIO_forever(ulong files)
    {
        var h = LuoModel.Testkit.Handover.DemoHandover.Get(LuoModel.Kernel.LuoAbi.FdtV1);
        var area = h.Regions.Single(r => r.Kind == LuoModel.Testkit.Handover.MetaKind.FdtSessionArea);
        var arena = h.LoadArena();
        // entry 0 ("vm-1", two files) starts after the 8-byte count; files is at +64 of the entry
        arena.WriteU64(area.Phys + 8 + LuoModel.Kernel.LuoSessionSer.FilesOffset, files);
        var obs = LuoModel.Testkit.Handover.HandoverObserver.Observe(h.Boot(arena));
        Assert.Null(obs.Anomaly);
        Assert.Equal(LuoModel.Testkit.Handover.BootKind.DeviceEio, obs.Boot);
    }
}
