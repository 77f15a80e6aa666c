using LuoModel.Fdt;
using R = LuoModel.Fdt.FdtStrictRules;

namespace LuoModel.Tests.Fdt;

/// <summary>FdtStrictCheck against every crafted vector (fdt.md §12) and every case blob.</summary>
public class StrictCheckTests
{
    /// <summary>
    /// Expected rule set per crafted file. bad-* blobs fail fdt_check_full, so the strict check reports exactly one
    /// "libfdt" finding whose message is the FDT_ERR name (crafted-results.tsv, check_full 1.6.1 column).
    /// </summary>
    private static readonly Dictionary<string, string[]> Expected = new(StringComparer.Ordinal)
    {
        ["ok-base.dtb"] = [],
        ["ok-version-18.dtb"] = [],
        ["ok-strings-before-struct.dtb"] = [],
        ["ok-gaps.dtb"] = [],
        ["ok-nop-inside.dtb"] = [],

        ["hostile-struct-misaligned.dtb"] = [R.MisalignedStruct],
        ["hostile-rsvmap-misaligned.dtb"] = [R.MisalignedRsvmap],
        ["hostile-no-root.dtb"] = [R.NoRoot],
        ["hostile-prop-before-root.dtb"] = [R.DataBeforeRoot],
        ["hostile-leading-nop.dtb"] = [R.DataBeforeRoot],
        ["hostile-prop-after-subnode.dtb"] = [R.PropAfterSubnode],
        ["hostile-duplicate-names.dtb"] = [R.DuplicateProperty, R.DuplicateNode],
        ["hostile-bad-names.dtb"] = [R.BadPropertyName, R.BadNodeName],
        ["hostile-strings-overlap-struct.dtb"] = [R.BlockOverlap],
        ["hostile-garbage-after-end.dtb"] = [R.GarbageAfterEnd],
        ["hostile-deep-nesting.dtb"] = [R.TooDeep],

        ["bad-magic.dtb"] = Libfdt("FDT_ERR_BADMAGIC"),
        ["bad-magic-little-endian.dtb"] = Libfdt("FDT_ERR_BADMAGIC"),
        ["bad-version-too-old.dtb"] = Libfdt("FDT_ERR_BADVERSION"),
        ["bad-last-comp-too-new.dtb"] = Libfdt("FDT_ERR_BADVERSION"),
        ["bad-version-below-last-comp.dtb"] = Libfdt("FDT_ERR_BADVERSION"),
        ["bad-short-file.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-truncated-file.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-totalsize-beyond-buffer.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-totalsize-below-header.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-totalsize-huge.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-rsvmap-offset-beyond.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-rsvmap-in-header.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-rsvmap-unterminated.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-rsvmap-overlap-struct.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-struct-offset-beyond.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-struct-size-beyond.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-struct-size-wraps.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-strings-offset-beyond.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-strings-size-beyond.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-strings-in-header.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-struct-no-end-token.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-struct-cut-mid-token.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-struct-cut-mid-property.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-prop-len-past-end.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-prop-len-wraps.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-name-no-nul.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-nameoff-out-of-range.dtb"] = Libfdt("FDT_ERR_BADOFFSET"),
        ["bad-nameoff-negative.dtb"] = Libfdt("FDT_ERR_BADOFFSET"),
        ["bad-string-no-nul.dtb"] = Libfdt("FDT_ERR_TRUNCATED"),
        ["bad-unknown-token.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-zero-token.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-root-value-as-token.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-struct-offset-shifted.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-missing-end-node.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-extra-end-node.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-end-node-first.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-two-roots.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-root-named.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
        ["bad-nop-after-root.dtb"] = Libfdt("FDT_ERR_BADSTRUCTURE"),
    };

    private static string[] Libfdt(string errName) => [R.Libfdt + ":" + errName];

    public static TheoryData<string> CraftedFiles()
    {
        var d = new TheoryData<string>();
        foreach (string f in Expected.Keys.Order(StringComparer.Ordinal)) d.Add(f);
        return d;
    }

    private static string[] Rules(IReadOnlyList<FdtFinding> findings) =>
        [.. findings.Select(f => f.Rule == R.Libfdt ? f.Rule + ":" + f.Message : f.Rule).Distinct().Order(StringComparer.Ordinal)];

    [Fact]
    public void Expected_table_covers_exactly_the_crafted_files_of_the_folder()
    {
        Assert.True(Directory.Exists(Vectors.Dir), $"missing {Vectors.Dir}");
        string[] crafted = [.. Directory.GetFiles(Vectors.Dir, "*.dtb").Select(p => Path.GetFileName(p)!)
            .Where(f => f.StartsWith("ok-", StringComparison.Ordinal) || f.StartsWith("bad-", StringComparison.Ordinal)
                        || f.StartsWith("hostile-", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), crafted);
    }

    [Theory]
    [MemberData(nameof(CraftedFiles))]
    public void Crafted_vector_gives_exactly_its_rules(string file)
    {
        byte[] blob = Vectors.Bytes(file);
        IReadOnlyList<FdtFinding> findings = FdtStrictCheck.Check(blob);
        Assert.Equal(Expected[file].Order(StringComparer.Ordinal), Rules(findings));
        if (file.StartsWith("bad-", StringComparison.Ordinal))
        {
            // Exactly one finding, and it agrees with libfdt's recorded check_full code.
            FdtFinding only = Assert.Single(findings);
            int full = Vectors.Crafted().Single(r => r.File == file).Full;
            Assert.Equal(FdtErrors.Name(full), only.Message);
        }
    }

    [Theory]
    [MemberData(nameof(Vectors.CaseBlobs), MemberType = typeof(Vectors))]
    public void Case_blob_has_no_finding(string id, string kind)
    {
        // 17-nop (NOPs inside nodes, unused names), 18-names-edge (every legal character, 31-character names),
        // 19-version16 (version 16 with a 36-byte header) and 20-padded (extra zero rsvmap entries) are all valid.
        byte[] blob = Vectors.Bytes($"{id}.{kind}.dtb");
        Assert.Empty(FdtStrictCheck.Check(blob));
    }

    [Fact]
    public void Findings_carry_absolute_offsets_and_messages()
    {
        var dup = FdtStrictCheck.Check(Vectors.Bytes("hostile-duplicate-names.dtb"));
        Assert.Equal(
        [
            new FdtFinding(R.DuplicateProperty, 0x50, "property \"dup\" repeats the one at 0x40"),
            new FdtFinding(R.DuplicateNode, 0x70, "node \"twin\" repeats the one at 0x60"),
        ], dup);

        var names = FdtStrictCheck.Check(Vectors.Bytes("hostile-bad-names.dtb"));
        Assert.Equal(
        [
            new FdtFinding(R.BadPropertyName, 0x40, "property \"bad name!\": character 0x20 is not allowed"),
            new FdtFinding(R.BadPropertyName, 0x50, "property \"\": empty property name"),
            new FdtFinding(R.BadNodeName, 0x60, "node \"has/slash\": '/' inside a node name"),
            new FdtFinding(R.BadNodeName, 0x74, "node \"\": empty node name"),
            new FdtFinding(R.BadNodeName, 0x80, "node \"a@b@c\": more than one '@'"),
        ], names);

        Assert.Equal([new FdtFinding(R.MisalignedStruct, FdtHeaderOffsets.OffDtStruct, "off_dt_struct 0x39 is not a multiple of 4")],
            FdtStrictCheck.Check(Vectors.Bytes("hostile-struct-misaligned.dtb")));
        Assert.Equal([new FdtFinding(R.BlockOverlap, 0x38, "structure block [0x38, 0x68) overlaps strings block [0x38, 0x68)")],
            FdtStrictCheck.Check(Vectors.Bytes("hostile-strings-overlap-struct.dtb")));
        Assert.Equal([new FdtFinding(R.GarbageAfterEnd, 0x7c, "8 bytes after FDT_END inside size_dt_struct")],
            FdtStrictCheck.Check(Vectors.Bytes("hostile-garbage-after-end.dtb")));
        Assert.Equal([new FdtFinding(R.NoRoot, 0x38, "the structure block holds no root node")],
            FdtStrictCheck.Check(Vectors.Bytes("hostile-no-root.dtb")));
        // 10000 nested nodes of 8 bytes from struct offset 0x38: the node at depth 63 is at 0x38 + 63 * 8.
        Assert.Equal([new FdtFinding(R.TooDeep, 0x38 + (63 * 8), "node at depth 63 (root = 0); the limit is depth 62 (MaxDepth 64)")],
            FdtStrictCheck.Check(Vectors.Bytes("hostile-deep-nesting.dtb")));
    }

    /// <summary>A chain of nodes "n" under the root, <paramref name="levels"/> levels counting the root.</summary>
    private static byte[] Chain(int levels)
    {
        using var w = new FdtWriter();
        Assert.Equal(0, w.CreateGrowable());
        Assert.Equal(0, w.FinishReservemap());
        Assert.Equal(0, w.BeginNode(""));
        for (int i = 1; i < levels; i++) Assert.Equal(0, w.BeginNode("n"));
        for (int i = 0; i < levels; i++) Assert.Equal(0, w.EndNode());
        Assert.Equal(0, w.Finish());
        return w.ToArray();
    }

    [Fact]
    public void Depth_limit_matches_the_kernel_unflattening_limit()
    {
        // unflatten_dt_nodes() keeps depths 0..62 (FDT_MAX_DEPTH 64): 63 levels pass, 64 do not.
        Assert.Empty(FdtStrictCheck.Check(Chain(63)));
        byte[] deep = Chain(64);
        FdtFinding f = Assert.Single(FdtStrictCheck.Check(deep));
        Assert.Equal(R.TooDeep, f.Rule);
        Assert.Equal(48 + 16 + (63 * 8), f.Offset);   // libfdt layout: struct at 64, 8 bytes per node header
        Assert.Empty(FdtStrictCheck.Check(deep, new FdtStrictOptions { MaxDepth = 65 }));
        Assert.Empty(FdtStrictCheck.Check(Vectors.Bytes("hostile-deep-nesting.dtb"), new FdtStrictOptions { MaxDepth = 10002 }));
        Assert.Equal([R.TooDeep], Rules(FdtStrictCheck.Check(Vectors.Bytes("hostile-deep-nesting.dtb"), new FdtStrictOptions { MaxDepth = 10001 })));
    }

    [Fact]
    public void Totalsize_over_the_configured_maximum_is_too_large()
    {
        byte[] blob = Vectors.Bytes("ok-base.dtb");   // 141 bytes
        Assert.Empty(FdtStrictCheck.Check(blob, new FdtStrictOptions { MaxTotalSize = 141 }));
        Assert.Equal([new FdtFinding(R.TooLarge, FdtHeaderOffsets.TotalSize, "totalsize 141 exceeds the configured maximum 140")],
            FdtStrictCheck.Check(blob, new FdtStrictOptions { MaxTotalSize = 140 }));
        // The default (2 MiB) accepts every vector; a blob above it is reported.
        Assert.Equal(2 * 1024 * 1024, FdtStrictOptions.Default.MaxTotalSize);
        byte[] big = new byte[(2 * 1024 * 1024) + 8];
        blob.CopyTo(big, 0);
        LuoModel.Fdt.Fdt.SetTotalSize(big, (uint)big.Length);
        Assert.Equal([R.TooLarge], Rules(FdtStrictCheck.Check(big)));
    }

    [Fact]
    public void Version_below_16_is_old_version()
    {
        // A version-15 blob libfdt accepts: names are full paths ("/" root, "/child"), last_comp_version 2.
        using var w = new FdtWriter();
        Assert.Equal(0, w.CreateGrowable());
        Assert.Equal(0, w.FinishReservemap());
        Assert.Equal(0, w.BeginNode("/"));
        Assert.Equal(0, w.PropertyU32("id"u8, 7));
        Assert.Equal(0, w.BeginNode("/child"));
        Assert.Equal(0, w.EndNode());
        Assert.Equal(0, w.EndNode());
        Assert.Equal(0, w.Finish());
        byte[] blob = w.ToArray();
        LuoModel.Fdt.Fdt.SetVersion(blob, 15);
        LuoModel.Fdt.Fdt.SetLastCompVersion(blob, 2);
        Assert.Equal(0, LuoModel.Fdt.Fdt.CheckFull(blob));
        Assert.Equal([new FdtFinding(R.OldVersion, FdtHeaderOffsets.Version, "version 15 is below 16 (libfdt still reads 2..15; strict readers do not)")],
            FdtStrictCheck.Check(blob));
    }

    [Fact]
    public void Duplicates_are_found_by_name_text_even_without_string_dedup()
    {
        var root = new FdtNode("");
        root.Prop("a", [1]).Prop("b", [2]).Prop("a", [3]).Prop("a", [4]);
        root.Child("x@1");
        root.Child("x");
        root.Child("x@1");
        byte[] blob = root.Build(FdtCreateFlags.NoNameDedup);
        var findings = FdtStrictCheck.Check(blob);
        Assert.Equal([R.DuplicateProperty, R.DuplicateProperty, R.DuplicateNode], findings.Select(f => f.Rule));
        // Both later copies of "a" point at the first one; "x" and "x@1" are different full names.
        Assert.All(findings.Take(2), f => Assert.EndsWith("repeats the one at 0x48", f.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Findings_stop_at_the_configured_maximum()
    {
        var root = new FdtNode("");
        for (int i = 0; i < 10; i++) root.Prop("bad name " + i, []);
        byte[] blob = root.Build();
        Assert.Equal(10, FdtStrictCheck.Check(blob).Count);
        var capped = FdtStrictCheck.Check(blob, new FdtStrictOptions { MaxFindings = 3 });
        Assert.Equal([R.BadPropertyName, R.BadPropertyName, R.BadPropertyName, R.TooManyFindings], capped.Select(f => f.Rule));
    }

    [Fact]
    public void Overlapping_reservation_map_and_strings_block_is_block_overlap()
    {
        // ok-base (rsvmap 40, struct 56..124, strings 124..141) grown by 24 zero bytes: the strings block is
        // extended over them and the rsvmap moved to 144, inside it. Names still resolve and the terminator is
        // found, so libfdt accepts the blob.
        byte[] blob = new byte[141 + 24];
        Vectors.Bytes("ok-base.dtb").CopyTo(blob, 0);
        LuoModel.Fdt.Fdt.SetTotalSize(blob, (uint)blob.Length);
        LuoModel.Fdt.Fdt.SetSizeDtStrings(blob, 17 + 24);
        LuoModel.Fdt.Fdt.SetOffMemRsvmap(blob, 144);
        Assert.Equal(0, LuoModel.Fdt.Fdt.CheckFull(blob));
        Assert.Equal([new FdtFinding(R.BlockOverlap, 144, "reservation map [0x90, 0xa0) overlaps strings block [0x7c, 0xa5)")],
            FdtStrictCheck.Check(blob));
    }

    [Theory]
    [InlineData("cpu@0", null)]
    [InlineData("dev@1,2", null)]
    [InlineData("Node,Name_with.all+chars-0", null)]
    [InlineData("abcdefghijklmnopqrstuvwxyz01234", null)]                 // 31 characters
    [InlineData("abcdefghijklmnopqrstuvwxyz01234@ffffffffffffffffffffffffffffffff", null)]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345", "base name has 32 characters (at most 31)")]
    [InlineData("", "empty node name")]
    [InlineData("a/b", "'/' inside a node name")]
    [InlineData("a@b@c", "more than one '@'")]
    [InlineData("@1", "empty base name before '@'")]
    [InlineData("a@", "empty unit address after '@'")]
    [InlineData("a b", "character 0x20 is not allowed")]
    [InlineData("a#b", "character '#' is not allowed")]
    [InlineData("a?", "character '?' is not allowed")]
    public void Node_name_rules(string name, string? problem) =>
        Assert.Equal(problem, FdtStrictCheck.NodeNameProblem(System.Text.Encoding.UTF8.GetBytes(name)));

    [Theory]
    [InlineData("compatible", null)]
    [InlineData("#address-cells", null)]
    [InlineData("vendor,prop#?_+.-name", null)]
    [InlineData("abcdefghijklmnopqrstuvwxyz01234", null)]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345", "name has 32 characters (at most 31)")]
    [InlineData("", "empty property name")]
    [InlineData("a@b", "character '@' is not allowed")]
    [InlineData("a/b", "character '/' is not allowed")]
    [InlineData("a*", "character '*' is not allowed")]
    public void Property_name_rules(string name, string? problem) =>
        Assert.Equal(problem, FdtStrictCheck.PropertyNameProblem(System.Text.Encoding.UTF8.GetBytes(name)));

    [Fact]
    public void Non_ascii_names_are_escaped_in_messages()
    {
        var root = new FdtNode("");
        root.Prop("caf\u00e9", []);
        var f = Assert.Single(FdtStrictCheck.Check(root.Build()));
        Assert.Equal("property \"caf\\xc3\\xa9\": character 0xc3 is not allowed", f.Message);
    }
}
