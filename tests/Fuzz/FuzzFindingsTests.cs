using LuoModel.Fdt;
using LuoModel.Testkit.Fuzz;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Tests.Fuzz;

/// <summary>Regression tests for the crashes the fuzzers found (fuzz/README.md lists them), with the exact
/// result the fixed code returns.</summary>
public class FuzzFindingsTests
{
    /// <summary>Finding 1 (fdt target): vector bad-prop-len-wraps cut to 104 bytes (totalsize 0x8d). The property
    /// at structure offset 0x28 has length 0xfffffffc, which wraps in the tag walk, so the tag check passes
    /// while the 12-byte property header lies past the end of the 104-byte buffer. GetPropByOffset and
    /// GetPropertyOffset threw ArgumentOutOfRangeException; they now return -FDT_ERR_TRUNCATED.</summary>
    private static readonly byte[] WrappedPropertyPastBuffer = Convert.FromHexString(
        "d00dfeed0000008d000000380000007c000000280000001100000010000000000000001100000044000000000000000000000000000000000000000100000000000000030000000800000000746573742d763100000000016368696c6400000000000003fffffffc");

    [Fact]
    public void Truncated_wrapping_property_reports_truncated()
    {
        byte[] d = WrappedPropertyPastBuffer;
        Assert.Equal(104, d.Length);
        int child = FdtRo.SubnodeOffset(d, 0, "child");
        Assert.True(child > 0, $"child = {child}");
        int prop = FdtRo.FirstPropertyOffset(d, child);
        Assert.Equal(0x28, prop);
        Assert.Equal(FdtError.Truncated.Neg(), FdtRo.GetPropByOffset(d, prop, out _, out _, out int len));
        Assert.Equal(FdtError.Truncated.Neg(), len);
        Assert.Equal(FdtError.Truncated.Neg(), FdtRo.GetPropertyOffset(d, child, "compatible"u8, out len));
        Assert.Equal(FdtError.Truncated.Neg(), FdtRo.StringListCount(d, child, "compatible"u8));
        FuzzTargets.Fdt(d);
        FuzzTargets.Printers(d);
    }
}
