using LuoModel.Tests.Fdt;

namespace LuoModel.Tests.Cli;

/// <summary>The <c>luo</c> command run in-process through <see cref="Program.Run"/> with captured writers.</summary>
public class FdtCliTests
{
    private static (int Code, string Out, string Err) Luo(params string[] args) => LuoModel.Tests.Cli.LuoCli.Run(args);

    private static string V(string file) => Path.Combine(Vectors.Dir, file);

    [Fact]
    public void Dump_prints_the_dtc_text()
    {
        var (code, o, e) = Luo("fdt", "dump", V("14-luo.dtc.dtb"));
        Assert.Equal(0, code);
        Assert.Equal(Vectors.Text("14-luo.decompiled.dts"), o);
        Assert.Equal("", e);
    }

    [Fact]
    public void Dump_of_a_libfdt_blob_with_nops_prints_the_same_dtc_text()
    {
        var (code, o, _) = Luo("fdt", "dump", "--format", "dts", V("17-nop.libfdt.dtb"));
        Assert.Equal(0, code);
        Assert.Equal(Vectors.Text("17-nop.decompiled.dts"), o);
    }

    [Fact]
    public void Dump_in_fdtdump_format()
    {
        var (code, o, e) = Luo("fdt", "dump", V("17-nop.libfdt.dtb"), "--format", "fdtdump");
        Assert.Equal(0, code);
        Assert.Equal(Vectors.Text("17-nop.libfdt.fdtdump.txt"), o);
        Assert.Equal("", e);
    }

    [Fact]
    public void Dump_rejects_an_unknown_format()
    {
        var (code, o, e) = Luo("fdt", "dump", V("14-luo.dtc.dtb"), "--format", "xml");
        Assert.NotEqual(0, code);
        Assert.DoesNotContain("/dts-v1/", o, StringComparison.Ordinal);
        Assert.Contains("xml", e, StringComparison.Ordinal);
    }

    [Fact]
    public void Tree_prints_the_tree_text()
    {
        var (code, o, _) = Luo("fdt", "tree", V("15-kho.libfdt-nodedup.dtb"));
        Assert.Equal(0, code);
        Assert.Equal(Vectors.Text("15-kho.tree.txt"), o);
    }

    [Theory]
    [InlineData("ok-base.dtb", 0, "OK\n")]
    [InlineData("14-luo.libfdt.dtb", 0, "OK\n")]
    [InlineData("hostile-duplicate-names.dtb", 0, "OK\n")]
    [InlineData("bad-magic.dtb", 1, "FDT_ERR_BADMAGIC (-9)\n")]
    [InlineData("bad-short-file.dtb", 1, "FDT_ERR_TRUNCATED (-8)\n")]
    [InlineData("bad-prop-len-wraps.dtb", 1, "FDT_ERR_BADSTRUCTURE (-11)\n")]
    [InlineData("bad-nameoff-negative.dtb", 1, "FDT_ERR_BADOFFSET (-4)\n")]
    public void Check_prints_ok_or_the_libfdt_code(string file, int exit, string text)
    {
        var (code, o, e) = Luo("fdt", "check", V(file));
        Assert.Equal(exit, code);
        Assert.Equal(text, o);
        Assert.Equal("", e);
    }

    [Fact]
    public void Strict_check_adds_named_findings_to_libfdts_answer()
    {
        Assert.Equal((0, "OK\n", ""), Luo("fdt", "check", "--strict", V("ok-base.dtb")));
        Assert.Equal((1, "FDT_ERR_BADMAGIC (-9)\n", ""), Luo("fdt", "check", V("bad-magic.dtb"), "--strict"));
        // libfdt accepts the hostile blob; the strict check names what is wrong with it.
        Assert.Equal((0, "OK\n", ""), Luo("fdt", "check", V("hostile-duplicate-names.dtb")));
        var (code, o, e) = Luo("fdt", "check", "--strict", V("hostile-duplicate-names.dtb"));
        Assert.Equal(1, code);
        Assert.Equal("", e);
        string[] lines = o.TrimEnd('\n').Split('\n');
        Assert.Equal("OK", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("strict: duplicate-property at 0x", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("strict: duplicate-node at 0x", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("dump")]
    [InlineData("check")]
    [InlineData("tree")]
    public void Missing_file_is_a_clear_error_without_stack_trace(string sub)
    {
        string path = Path.Combine(Vectors.Dir, "no-such-file.dtb");
        var (code, o, e) = Luo("fdt", sub, path);
        Assert.Equal(2, code);
        Assert.Equal("", o);
        Assert.Equal($"luo: {path}: no such file\n", e);
    }

    [Fact]
    public void Directory_is_a_clear_error()
    {
        var (code, o, e) = Luo("fdt", "dump", Vectors.Dir);
        Assert.Equal(2, code);
        Assert.Equal("", o);
        Assert.Equal($"luo: {Vectors.Dir}: is a directory\n", e);
    }

    [Theory]
    [InlineData("bad-prop-len-wraps.dtb", "FDT_ERR_BADSTRUCTURE (-11)")]
    [InlineData("bad-truncated-file.dtb", "FDT_ERR_TRUNCATED (-8)")]
    [InlineData("hostile-leading-nop.dtb", "FDT_ERR_BADSTRUCTURE (-11)")]
    [InlineData("hostile-deep-nesting.dtb", "FDT_ERR_BADSTRUCTURE (-11)")]
    public void Hostile_blob_dump_fails_with_the_code(string file, string code)
    {
        var (exit, o, e) = Luo("fdt", "dump", V(file));
        Assert.Equal(1, exit);
        Assert.Equal("", o);
        Assert.Equal($"luo: {V(file)}: cannot dump: {code}\n", e);
        // The tree text goes through the libfdt API: leading NOP -> BADOFFSET, 10000-deep path -> NOSPACE.
        var (exitTree, oTree, eTree) = Luo("fdt", "tree", V(file));
        Assert.Equal(1, exitTree);
        Assert.Equal("", oTree);
        Assert.StartsWith($"luo: {V(file)}: cannot print tree: FDT_ERR_", eTree, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", eTree, StringComparison.Ordinal);
    }

    [Fact]
    public void Fdtdump_format_keeps_partial_output_and_fails_on_an_unknown_token()
    {
        var (exit, o, e) = Luo("fdt", "dump", "--format", "fdtdump", V("bad-unknown-token.dtb"));
        Assert.Equal(1, exit);
        Assert.StartsWith("/dts-v1/;\n// magic:\t\t0xd00dfeed\n", o, StringComparison.Ordinal);
        Assert.Equal($"luo: {V("bad-unknown-token.dtb")}: cannot dump: FDT_ERR_BADSTRUCTURE (-11)\n", e);
    }
}
