using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using LuoModel.Fdt;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.PropertyTests.Fdt;

/// <summary>
/// The FDT writer properties, parameterised by the build path so that the same property runs against the
/// library (<see cref="FdtWriterProperties"/>) and against deliberately broken paths (<c>BrokenWriterTests</c>).
/// Each check is labelled; a failing run names the label that broke.
/// </summary>
public static class FdtWriterChecks
{
    /// <summary>Label of the tree-text comparison.</summary>
    public const string TreeTextLabel = "tree text";
    /// <summary>Label of the check_full result.</summary>
    public const string CheckFullLabel = "check_full";

    /// <summary>
    /// (a) write → fdt_check_full == 0 → the printed tree equals the model's text (names, property order, values,
    /// child order, reservations), and the header describes the canonical layout (fdt.md §8).
    /// </summary>
    public static Property RoundTrip(Func<TreeCase, byte[]> build) =>
        Prop.ForAll(FdtGenerators.Trees(), t =>
        {
            byte[] blob = build(t);
            int check = FdtRo.CheckFull(blob);
            string text = FdtTreePrinter.ToText(blob, out int err);
            string expected = t.ExpectedText();
            int offStruct = FdtConst.SwHeaderSize + (FdtConst.ReserveEntrySize * (t.Reservations.Length + 1));
            bool layout = FdtRo.OffMemRsvmap(blob) == FdtConst.SwHeaderSize
                && FdtRo.OffDtStruct(blob) == offStruct
                && FdtRo.SizeDtStruct(blob) == t.StructSize
                && FdtRo.OffDtStrings(blob) == offStruct + t.StructSize
                && FdtRo.TotalSize(blob) == FdtRo.OffDtStrings(blob) + FdtRo.SizeDtStrings(blob)
                && FdtRo.TotalSize(blob) == blob.Length;
            return (check == 0).Label($"{CheckFullLabel} = {FdtErrors.Name(check)}")
                .And((err == 0).Label($"printer error {FdtErrors.Name(err)}"))
                .And((text == expected).Label($"{TreeTextLabel}: {FirstDifference(expected, text)}"))
                .And(layout.Label("header layout"));
        });

    /// <summary>Label of the strings-block size checks.</summary>
    public const string StringsSizeLabel = "strings size";
    /// <summary>Label of the masked structure comparison.</summary>
    public const string StructLabel = "structure blocks (nameoff masked)";

    /// <summary>
    /// (b) de-duplicated and FDT_CREATE_FLAG_NO_NAME_DEDUP blobs read back identically; the no-dedup strings block
    /// is exactly Σ(name length + 1); the dedup one is no bigger than the distinct names; the structure blocks
    /// are equal byte for byte except the nameoff fields.
    /// </summary>
    public static Property DedupMatchesNoDedup(Func<TreeCase, FdtCreateFlags, byte[]> build) =>
        Prop.ForAll(FdtGenerators.Trees(), t =>
        {
            byte[] d = build(t, FdtCreateFlags.None), n = build(t, FdtCreateFlags.NoNameDedup);
            int checkD = FdtRo.CheckFull(d), checkN = FdtRo.CheckFull(n);
            string textD = FdtTreePrinter.ToText(d, out int errD), textN = FdtTreePrinter.ToText(n, out int errN);
            uint strD = FdtRo.SizeDtStrings(d), strN = FdtRo.SizeDtStrings(n);
            var maskD = FdtBuilders.MaskNameoffs(d);
            var maskN = FdtBuilders.MaskNameoffs(n);
            bool sameStruct = maskD is { } md && maskN is { } mn && md.Masked.AsSpan().SequenceEqual(mn.Masked);
            return (checkD == 0 && checkN == 0).Label($"{CheckFullLabel} dedup={FdtErrors.Name(checkD)} nodedup={FdtErrors.Name(checkN)}")
                .And((errD == 0 && errN == 0 && textD == textN).Label($"{TreeTextLabel} dedup vs nodedup: {FirstDifference(textD, textN)}"))
                .And((textD == t.ExpectedText()).Label($"{TreeTextLabel} vs model: {FirstDifference(t.ExpectedText(), textD)}"))
                .And((strN == t.NoDedupStringsSize).Label($"{StringsSizeLabel}: nodedup {strN}, expected {t.NoDedupStringsSize}"))
                .And((strD <= t.DistinctStringsSize && strD <= strN).Label(
                    $"{StringsSizeLabel}: dedup {strD}, distinct names {t.DistinctStringsSize}, nodedup {strN}"))
                .And(sameStruct.Label(StructLabel));
        });

    /// <summary>Label of the byte-exact strings block comparison.</summary>
    public const string StringsBlockLabel = "strings block";
    /// <summary>Label of the nameoff comparison.</summary>
    public const string NameoffsLabel = "nameoffs";

    /// <summary>
    /// (b, byte-exact) the strings block and every nameoff are what libfdt's rules give (simulated in
    /// <see cref="TreeCase.ExpectedSequentialStrings"/>): reverse order of first use, reuse of exact names and of
    /// tails at the lowest offset with de-duplication, every name appended without; for the read-write API,
    /// names appended in call order with the same reuse.
    /// </summary>
    public static Property StringsFollowLibfdtRules(Func<TreeCase, FdtCreateFlags, byte[]> buildSeq, Func<TreeCase, byte[]> buildRw) =>
        Prop.ForAll(FdtGenerators.Trees(), t =>
        {
            var problems = new List<string>();
            foreach (bool dedup in new[] { true, false })
            {
                byte[] blob = buildSeq(t, dedup ? FdtCreateFlags.None : FdtCreateFlags.NoNameDedup);
                var (strings, nameoffs) = t.ExpectedSequentialStrings(dedup);
                string which = dedup ? "dedup" : "nodedup";
                ReadOnlySpan<byte> actual = StringsBlock(blob);
                if (!actual.SequenceEqual(strings))
                    problems.Add($"{StringsBlockLabel} {which}: \"{Printable(actual)}\", expected \"{Printable(strings)}\"");
                int[] got = FdtBuilders.MaskNameoffs(blob) is { } m
                    ? [.. m.NameoffAt.Select(at => BinaryPrimitives.ReadInt32BigEndian(blob.AsSpan(at)))]
                    : [];
                if (!got.AsSpan().SequenceEqual(nameoffs))
                    problems.Add($"{NameoffsLabel} {which}: [{string.Join(",", got)}], expected [{string.Join(",", nameoffs)}]");
            }
            byte[] rw = buildRw(t);
            byte[] rwExpected = t.ExpectedReadWriteStrings();
            if (!StringsBlock(rw).SequenceEqual(rwExpected))
                problems.Add($"{StringsBlockLabel} rw: \"{Printable(StringsBlock(rw))}\", expected \"{Printable(rwExpected)}\"");
            return (problems.Count == 0).Label(string.Join("; ", problems));
        });

    private static ReadOnlySpan<byte> StringsBlock(byte[] blob)
    {
        long off = FdtRo.OffDtStrings(blob), size = FdtRo.SizeDtStrings(blob);
        return off + size <= blob.Length ? blob.AsSpan((int)off, (int)size) : [];
    }

    private static string Printable(ReadOnlySpan<byte> s) => Clip(Encoding.ASCII.GetString(s).Replace('\0', '|'));

    /// <summary>Label of the read-write comparison with the sequential writer.</summary>
    public const string RwStructLabel = "rw structure vs sequential (nameoff and padding masked)";

    /// <summary>
    /// (c) the same tree built with the read-write API (open the empty tree, add nodes and properties, pack)
    /// passes fdt_check_full and prints the same text; its bytes differ (fdt_pack puts the rsvmap at 40, the
    /// writer at 48) but its tokens are the sequential writer's except nameoff fields and stale value padding.
    /// </summary>
    public static Property ReadWriteMatchesSequential(Func<TreeCase, byte[]> buildRw, Func<TreeCase, byte[]> buildSeq) =>
        Prop.ForAll(FdtGenerators.Trees(), t =>
        {
            byte[] rw = buildRw(t), seq = buildSeq(t);
            int check = FdtRo.CheckFull(rw);
            string text = FdtTreePrinter.ToText(rw, out int err);
            string expected = t.ExpectedText();
            var maskRw = FdtBuilders.MaskNameoffs(rw, maskPadding: true);
            var maskSeq = FdtBuilders.MaskNameoffs(seq, maskPadding: true);
            bool sameTokens = maskRw is { } a && maskSeq is { } b && a.Masked.AsSpan().SequenceEqual(b.Masked);
            return (check == 0).Label($"{CheckFullLabel} = {FdtErrors.Name(check)}")
                .And((err == 0 && text == expected).Label($"{TreeTextLabel}: {FirstDifference(expected, text)}"))
                .And((FdtRo.OffMemRsvmap(rw) == FdtConst.HeaderSize && !rw.AsSpan().SequenceEqual(seq)).Label("packed layout differs from the writer's"))
                .And(sameTokens.Label(RwStructLabel));
        });

    /// <summary>Label of the look-up checks.</summary>
    public const string PathLabel = "fdt_path_offset";
    /// <summary>Label of the property value checks.</summary>
    public const string GetPropLabel = "fdt_getprop";

    /// <summary>
    /// (f) for every node: fdt_path_offset(path) is the offset the canonical layout gives it, fdt_subnode_offset
    /// finds each child (also by base name, first match), fdt_getprop returns every value, and names that are
    /// not there (other nodes' names, prefixes, extensions, "name") give NOTFOUND.
    /// </summary>
    public static Property Lookups(Func<TreeCase, byte[]> build) =>
        Prop.ForAll(FdtGenerators.Trees(), t =>
        {
            byte[] blob = build(t);
            IReadOnlyList<PlacedNode> nodes = t.Nodes();
            string[] allNames = [.. nodes.SelectMany(n => n.Node.Props).Select(p => p.Name).Distinct(StringComparer.Ordinal).Take(16)];
            var pathErrors = new List<string>();
            var propErrors = new List<string>();
            for (int i = 0; i < nodes.Count; i++)
            {
                PlacedNode n = nodes[i];
                int got = FdtRo.PathOffset(blob, n.Path);
                if (got != n.Offset) pathErrors.Add($"{n.Path}: {got}, expected {n.Offset}");
                CheckChildren(blob, n, nodes, pathErrors);
                foreach (TreeProp p in n.Node.Props)
                {
                    int len = FdtRo.GetProp(blob, n.Offset, p.Name, out ReadOnlySpan<byte> value);
                    if (len != p.Value.Length || !value.SequenceEqual(p.Value))
                        propErrors.Add($"{n.Path} {p.Name}: {len} {Convert.ToHexStringLower(value)}");
                }
                foreach (string absent in AbsentNames(n.Node, allNames))
                {
                    int len = FdtRo.GetProp(blob, n.Offset, absent, out _);
                    if (len != FdtError.NotFound.Neg()) propErrors.Add($"{n.Path} absent {absent}: {FdtErrors.Name(len)}");
                }
            }
            return (pathErrors.Count == 0).Label($"{PathLabel}: {string.Join("; ", pathErrors.Take(4))}")
                .And((propErrors.Count == 0).Label($"{GetPropLabel}: {string.Join("; ", propErrors.Take(4))}"));
        });

    private static void CheckChildren(byte[] blob, PlacedNode n, IReadOnlyList<PlacedNode> nodes, List<string> errors)
    {
        List<(string Name, int Offset)> kids = [.. nodes
            .Where(c => c.Depth == n.Depth + 1 && c.Path == TreeCase.ChildPath(n.Path, c.Node.Name))
            .Select(c => (c.Node.Name, c.Offset))];
        foreach (var (name, offset) in kids)
        {
            int got = FdtRo.SubnodeOffset(blob, n.Offset, name);
            if (got != offset) errors.Add($"subnode {n.Path} {name}: {got}, expected {offset}");
            int at = name.IndexOf('@', StringComparison.Ordinal);
            if (at > 0)
            {
                // A name without '@' matches the first child called base@anything (fdt.md §6).
                string baseName = name[..at];
                int first = kids.First(k => k.Name.StartsWith(baseName + "@", StringComparison.Ordinal)).Offset;
                int byBase = FdtRo.SubnodeOffset(blob, n.Offset, baseName);
                if (byBase != first) errors.Add($"subnode {n.Path} {baseName}: {byBase}, expected {first}");
            }
        }
        string missing = Enumerable.Range(0, 100).Select(i => $"missing{i}")
            .First(m => !kids.Any(k => FdtGenerators.SiblingsClash(k.Name, m)));
        int none = FdtRo.PathOffset(blob, TreeCase.ChildPath(n.Path, missing));
        if (none != FdtError.NotFound.Neg()) errors.Add($"{TreeCase.ChildPath(n.Path, missing)}: {FdtErrors.Name(none)}");
    }

    private static IEnumerable<string> AbsentNames(TreeNode node, string[] allNames)
    {
        var present = node.Props.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        IEnumerable<string> candidates = allNames
            .Concat(node.Props.Where(p => p.Name.Length > 1).Select(p => p.Name[..^1]))
            .Concat(node.Props.Select(p => p.Name + "x"))
            .Append("name");
        return candidates.Where(c => !present.Contains(c)).Distinct(StringComparer.Ordinal);
    }

    /// <summary>The first line where two texts differ, for labels.</summary>
    public static string FirstDifference(string expected, string actual)
    {
        if (expected == actual) return "equal";
        string[] e = expected.Split('\n'), a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            string el = i < e.Length ? e[i] : "<end>", al = i < a.Length ? a[i] : "<end>";
            if (el != al) return $"line {i + 1}: expected \"{Clip(el)}\", got \"{Clip(al)}\"";
        }
        return "differ";
    }

    private static string Clip(string s) => s.Length <= 160 ? s : string.Concat(s.AsSpan(0, 160), "...");
}
