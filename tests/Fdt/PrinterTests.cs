using LuoModel.Fdt;

namespace LuoModel.Tests.Fdt;

/// <summary>The dtc and fdtdump printers against the golden text of every case (fdt.md §11).</summary>
public class PrinterTests
{
    [Theory]
    [MemberData(nameof(Vectors.CaseBlobs), MemberType = typeof(Vectors))]
    public void Dts_text_of_each_blob_matches_dtc_decompile(string id, string kind)
    {
        byte[] blob = Vectors.Bytes($"{id}.{kind}.dtb");
        string text = FdtDtsPrinter.ToText(blob, out int err);
        Assert.Equal(0, err);
        Assert.Equal(Vectors.Text($"{id}.decompiled.dts"), text);
    }

    [Theory]
    [MemberData(nameof(Vectors.Cases), MemberType = typeof(Vectors))]
    public void Fdtdump_text_of_dtc_blob_matches(string id)
    {
        byte[] blob = Vectors.Bytes($"{id}.dtc.dtb");
        string text = FdtDumpPrinter.ToText(blob, out int err);
        Assert.Equal(0, err);
        Assert.Equal(Vectors.Text($"{id}.fdtdump.txt"), text);
    }

    [Fact]
    public void Fdtdump_shows_nop_tokens_of_the_libfdt_blob()
    {
        byte[] blob = Vectors.Bytes("17-nop.libfdt.dtb");
        string text = FdtDumpPrinter.ToText(blob, out int err);
        Assert.Equal(0, err);
        Assert.Equal(Vectors.Text("17-nop.libfdt.fdtdump.txt"), text);
        Assert.Equal(19, text.Split('\n').Count(l => l.Trim() == "// [NOP]"));
    }

    [Fact]
    public void Dts_of_the_crafted_base_blob()
    {
        string text = FdtDtsPrinter.ToText(Vectors.Bytes("ok-base.dtb"), out int err);
        Assert.Equal(0, err);
        Assert.Equal("/dts-v1/;\n\n/ {\n\tcompatible = \"test-v1\";\n\n\tchild {\n\t\tvalue = <0x1234>;\n\t};\n};\n", text);
    }

    public static TheoryData<string, int> CraftedBlobs()
    {
        var d = new TheoryData<string, int>();
        foreach (var (file, _, full) in Vectors.Crafted()) d.Add(file, full);
        if (d.Count == 0) d.Add("<no crafted-results.tsv>", 1);
        return d;
    }

    /// <summary>
    /// Every crafted blob: the DTS printer returns fdt_check_full's code when that fails, and otherwise prints
    /// or refuses the shapes dtc refuses; neither printer throws.
    /// </summary>
    [Theory]
    [MemberData(nameof(CraftedBlobs))]
    public void Printers_survive_crafted_blobs(string file, int checkFull)
    {
        byte[] blob = Vectors.Bytes(file);
        string dts = FdtDtsPrinter.ToText(blob, out int err);
        if (checkFull != 0)
        {
            Assert.Equal(checkFull, err);
            Assert.Equal("", dts);
        }
        else
        {
            int expected = file switch
            {
                "hostile-no-root.dtb" or "hostile-prop-before-root.dtb" or "hostile-leading-nop.dtb" => FdtError.BadStructure.Neg(),
                "hostile-deep-nesting.dtb" => FdtError.BadStructure.Neg(),   // deeper than DefaultMaxDepth
                _ => 0,
            };
            Assert.Equal(expected, err);
            Assert.Equal(expected == 0, dts.StartsWith("/dts-v1/;\n\n", StringComparison.Ordinal));
        }
        string dump = FdtDumpPrinter.ToText(blob, out int dumpErr);
        Assert.True(dumpErr <= 0);
        if (blob.Length >= FdtConst.HeaderSize && LuoModel.Fdt.Fdt.Magic(blob) == FdtConst.Magic)
            Assert.StartsWith("/dts-v1/;\n// magic:\t\t0xd00dfeed\n", dump, StringComparison.Ordinal);
        else
            Assert.Equal("", dump);
    }

    [Theory]
    [InlineData("bad-unknown-token.dtb", -11)]
    [InlineData("bad-zero-token.dtb", -11)]
    [InlineData("bad-prop-len-wraps.dtb", -11)]
    [InlineData("bad-short-file.dtb", -8)]
    [InlineData("bad-magic.dtb", -9)]
    [InlineData("bad-struct-no-end-token.dtb", 0)]
    [InlineData("hostile-deep-nesting.dtb", -11)]
    [InlineData("ok-nop-inside.dtb", 0)]
    [InlineData("bad-end-node-first.dtb", -11)]
    [InlineData("bad-missing-end-node.dtb", -11)]
    [InlineData("bad-extra-end-node.dtb", -11)]
    [InlineData("bad-two-roots.dtb", 0)]
    public void Fdtdump_result_codes_on_crafted_blobs(string file, int expected)
    {
        FdtDumpPrinter.ToText(Vectors.Bytes(file), out int err);
        Assert.Equal(expected, err);
    }

    [Fact]
    public void Deep_nesting_prints_when_the_cap_allows_it()
    {
        byte[] blob = Vectors.Bytes("hostile-deep-nesting.dtb");
        string dts = FdtDtsPrinter.ToText(blob, out int err, maxDepth: 20000);
        Assert.Equal(0, err);
        Assert.EndsWith("\t};\n};\n", dts, StringComparison.Ordinal);
        FdtDumpPrinter.ToText(blob, out err, maxDepth: 20000);
        Assert.Equal(0, err);
    }

    [Theory]
    [InlineData(new byte[0], FdtValueKind.Empty, ";")]
    [InlineData(new byte[] { 0 }, FdtValueKind.Bytes, " = [00];")]
    [InlineData(new byte[] { 0, 0, 0, 0 }, FdtValueKind.Cells, " = <0x00>;")]
    [InlineData(new byte[] { (byte)'a', 0 }, FdtValueKind.String, " = \"a\";")]
    [InlineData(new byte[] { (byte)'a', 0, 0 }, FdtValueKind.Bytes, " = [61 00 00];")]          // NULs are the majority
    [InlineData(new byte[] { (byte)'a', 0, 0, 0 }, FdtValueKind.Cells, " = <0x61000000>;")]
    [InlineData(new byte[] { (byte)'a', 0, (byte)'b', 0 }, FdtValueKind.String, " = \"a\\0b\";")]
    [InlineData(new byte[] { (byte)'"', (byte)'\\', 9, 10, 7, 8, 11, 12, 13, 0 }, FdtValueKind.String, " = \"\\\"\\\\\\t\\n\\a\\b\\v\\f\\r\";")]
    [InlineData(new byte[] { 0x80, 0 }, FdtValueKind.Bytes, " = [80 00];")]
    [InlineData(new byte[] { 0, (byte)'a', (byte)'b', 0 }, FdtValueKind.String, " = \"\\0ab\";")]   // NULs exactly half
    [InlineData(new byte[] { 0, (byte)'a', 0 }, FdtValueKind.Bytes, " = [00 61 00];")]
    public void Dtc_value_guess_and_format(byte[] value, FdtValueKind kind, string text)
    {
        Assert.Equal(kind, FdtDtsPrinter.GuessValueKind(value));
        Assert.Equal(text, FdtDtsPrinter.FormatValue(value));
    }

    [Theory]
    [InlineData(new byte[] { (byte)'a', 0, (byte)'b', 0 }, true)]
    [InlineData(new byte[] { 0 }, false)]
    [InlineData(new byte[] { (byte)'a', 0, 0 }, false)]
    [InlineData(new byte[] { (byte)'a', 9, 0 }, false)]
    [InlineData(new byte[] { (byte)'a' }, false)]
    public void Fdtdump_string_list_rule(byte[] value, bool printable)
    {
        Assert.Equal(printable, FdtDumpPrinter.IsPrintableStringList(value));
    }
}

/// <summary>Printer behaviour on edited and damaged blobs.</summary>
public class PrinterRobustnessTests
{
    [Fact]
    public void Dtc_drops_a_name_property_equal_to_the_base_name()
    {
        using var w = new FdtWriter();
        Assert.Equal(0, w.CreateGrowable());
        Assert.Equal(0, w.FinishReservemap());
        Assert.Equal(0, w.BeginNode(""));
        Assert.Equal(0, w.BeginNode("dev@1"));
        Assert.Equal(0, w.PropertyString("name", "dev"));
        Assert.Equal(0, w.PropertyU32("reg"u8, 1));
        Assert.Equal(0, w.EndNode());
        Assert.Equal(0, w.BeginNode("other"));
        Assert.Equal(0, w.PropertyString("name", "different"));
        Assert.Equal(0, w.EndNode());
        Assert.Equal(0, w.EndNode());
        Assert.Equal(0, w.Finish());
        string text = FdtDtsPrinter.ToText(w.ToArray(), out int err);
        Assert.Equal(0, err);
        Assert.Equal("/dts-v1/;\n\n/ {\n\n\tdev@1 {\n\t\treg = <0x01>;\n\t};\n\n\tother {\n\t\tname = \"different\";\n\t};\n};\n", text);
    }

    [Fact]
    public void Dts_prints_a_property_after_a_subnode_with_the_other_properties()
    {
        string text = FdtDtsPrinter.ToText(Vectors.Bytes("hostile-prop-after-subnode.dtb"), out int err);
        Assert.Equal(0, err);
        int late = text.IndexOf("late-prop", StringComparison.Ordinal);
        Assert.True(late > 0 && late < text.IndexOf('{', text.IndexOf("/ {", StringComparison.Ordinal) + 3), text);
    }

    /// <summary>
    /// Deterministic mutations of valid blobs (random bytes, words set to boundary values, truncation): neither
    /// printer throws, the DTS printer reports exactly fdt_check_full's code whenever that fails, and the dump
    /// printer returns 0 or a negative code.
    /// </summary>
    [Theory]
    [InlineData("09-all-kinds.dtc.dtb")]
    [InlineData("14-luo.libfdt.dtb")]
    [InlineData("17-nop.libfdt.dtb")]
    [InlineData("19-version16.dtc.dtb")]
    public void Printers_never_throw_on_mutated_blobs(string file)
    {
        byte[] original = Vectors.Bytes(file);
        var rng = new Random(20240601);
        uint[] words = [0, 1, 2, 3, 4, 9, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff, (uint)original.Length];
        for (int iter = 0; iter < 400; iter++)
        {
            byte[] blob = (byte[])original.Clone();
            int edits = 1 + rng.Next(3);
            for (int k = 0; k < edits; k++)
            {
                int at = rng.Next(blob.Length) & ~3;
                switch (rng.Next(3))
                {
                    case 0: blob[rng.Next(blob.Length)] = (byte)rng.Next(256); break;
                    case 1 when at + 4 <= blob.Length:
                        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(blob.AsSpan(at), words[rng.Next(words.Length)]);
                        break;
                    default: blob = blob[..rng.Next(blob.Length)]; break;
                }
            }
            int full = LuoModel.Fdt.Fdt.CheckFull(blob);
            FdtDtsPrinter.ToText(blob, out int err);
            if (full < 0) Assert.Equal(full, err);
            else Assert.True(err <= 0);
            FdtDumpPrinter.ToText(blob, out int dumpErr, maxDepth: 64);
            Assert.True(dumpErr <= 0);
        }
    }
}
