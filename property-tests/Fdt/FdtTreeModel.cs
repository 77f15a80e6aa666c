using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using LuoModel.Fdt;

namespace LuoModel.PropertyTests.Fdt;

/// <summary>One property of a generated node: name and raw value bytes.</summary>
public sealed record TreeProp(string Name, byte[] Value)
{
    /// <summary>Readable form for counterexamples.</summary>
    public override string ToString() => $"{Name}[{Value.Length}]={Convert.ToHexStringLower(Value)}";
}

/// <summary>A generated node: name (with unit address; "" for the root), properties and children in order.</summary>
public sealed record TreeNode(string Name, ImmutableArray<TreeProp> Props, ImmutableArray<TreeNode> Children);

/// <summary>One reservation-map entry (size never 0: a 0 size would end the map, fdt.md §3).</summary>
public readonly record struct Reservation(ulong Address, ulong Size);

/// <summary>A node of a tree together with its full path, depth and the structure offset it must get.</summary>
public readonly record struct PlacedNode(string Path, int Depth, int Offset, TreeNode Node);

/// <summary>
/// The logical model the FDT properties compare against: a tree plus its reservations. Everything expected
/// (tree text, node offsets, structure size, writer call sequence) is derived here from the model alone,
/// independently of the library's readers.
/// </summary>
public sealed record TreeCase(TreeNode Root, ImmutableArray<Reservation> Reservations)
{
    /// <summary>The counterexample FsCheck prints: the expected tree text.</summary>
    public override string ToString() => "\n" + ExpectedText();

    /// <summary>
    /// The tree in the vectors' tree.txt format (what <see cref="FdtTreePrinter.ToText"/> prints for a finished
    /// sequential-writer blob): header line, rsv lines, then node and prop lines in document order.
    /// </summary>
    public string ExpectedText()
    {
        var sb = new StringBuilder();
        sb.Append("header version=17 last_comp_version=16 boot_cpuid_phys=0\n");
        foreach (Reservation r in Reservations)
            sb.Append(CultureInfo.InvariantCulture, $"rsv 0x{r.Address:x16} 0x{r.Size:x16}\n");
        foreach (PlacedNode n in Nodes())
        {
            sb.Append(CultureInfo.InvariantCulture, $"node {n.Depth} {n.Path}\n");
            foreach (TreeProp p in n.Node.Props)
                sb.Append(CultureInfo.InvariantCulture, $"prop {n.Path} {p.Name} {p.Value.Length} {Convert.ToHexStringLower(p.Value)}\n");
        }
        return sb.ToString();
    }

    /// <summary>Every node in document order with the structure-block offset the canonical layout gives it (fdt.md §4).</summary>
    public IReadOnlyList<PlacedNode> Nodes()
    {
        var list = new List<PlacedNode>();
        Place(Root, "/", 0, 0, list);
        return list;
    }

    /// <summary>size_dt_struct of a canonical blob: the root node's tokens plus FDT_END.</summary>
    public int StructSize => Place(Root, "/", 0, 0, null) + FdtConst.TagSize;

    /// <summary>Number of properties in the whole tree.</summary>
    public int PropertyCount => Nodes().Sum(n => n.Node.Props.Length);

    /// <summary>Sum of (name length + 1) over all properties: the strings block without de-duplication.</summary>
    public int NoDedupStringsSize => Nodes().Sum(n => n.Node.Props.Sum(p => Encoding.UTF8.GetByteCount(p.Name) + 1));

    /// <summary>Sum of (name length + 1) over the distinct property names: an upper bound with de-duplication.</summary>
    public int DistinctStringsSize =>
        Nodes().SelectMany(n => n.Node.Props).Select(p => p.Name).Distinct(StringComparer.Ordinal).Sum(s => Encoding.UTF8.GetByteCount(s) + 1);

    /// <summary>
    /// totalsize of the sequential writer's blob with FDT_CREATE_FLAG_NO_NAME_DEDUP: 48-byte header area,
    /// reservations plus terminator, structure, every name appended (fdt.md §8 "The finished blob").
    /// </summary>
    public int NoDedupTotalSize =>
        FdtConst.SwHeaderSize + FdtConst.ReserveEntrySize * (Reservations.Length + 1) + StructSize + NoDedupStringsSize;

    /// <summary>Property names in document order (the order the sequential writer stores them).</summary>
    public IEnumerable<string> PropNamesInDocumentOrder() => Nodes().SelectMany(n => n.Node.Props).Select(p => p.Name);

    /// <summary>
    /// Property names in the order <see cref="FdtBuilders.ReadWrite"/> calls fdt_setprop: per node its properties
    /// last to first, then its children last to first, each filled right after it is added.
    /// </summary>
    public IEnumerable<string> PropNamesInReadWriteOrder()
    {
        var names = new List<string>();
        void Visit(TreeNode n)
        {
            for (int i = n.Props.Length - 1; i >= 0; i--) names.Add(n.Props[i].Name);
            for (int i = n.Children.Length - 1; i >= 0; i--) Visit(n.Children[i]);
        }
        Visit(Root);
        return names;
    }

    /// <summary>
    /// The sequential writer's strings block and nameoffs (in document order), simulated with libfdt's rule
    /// (fdt.md §8): each new name is put in front of the table; with de-duplication a name is reused when
    /// <c>name\0</c> occurs anywhere in the table, at its lowest offset (so tails of longer names count).
    /// </summary>
    public (byte[] Strings, int[] Nameoffs) ExpectedSequentialStrings(bool dedup)
    {
        byte[] table = [];
        var fromEnd = new List<int>();
        foreach (string name in PropNamesInDocumentOrder())
        {
            byte[] key = [.. Encoding.UTF8.GetBytes(name), 0];
            int pos = dedup ? table.AsSpan().IndexOf(key) : -1;
            if (pos < 0) { table = [.. key, .. table]; pos = 0; }
            fromEnd.Add(pos - table.Length);   // offsets from the end do not move when names are put in front
        }
        return (table, [.. fromEnd.Select(o => table.Length + o)]);
    }

    /// <summary>
    /// The read-write API's strings block after <see cref="FdtBuilders.ReadWrite"/>: names appended at the end,
    /// reused at the lowest offset where <c>name\0</c> occurs (fdt.md §8 "Read-write API").
    /// </summary>
    public byte[] ExpectedReadWriteStrings()
    {
        byte[] table = [];
        foreach (string name in PropNamesInReadWriteOrder())
        {
            byte[] key = [.. Encoding.UTF8.GetBytes(name), 0];
            if (table.AsSpan().IndexOf(key) < 0) table = [.. table, .. key];
        }
        return table;
    }

    /// <summary>The libfdt sequential-writer calls that build this tree (after fdt_create).</summary>
    public ImmutableArray<WriterOp> Ops()
    {
        var ops = ImmutableArray.CreateBuilder<WriterOp>();
        foreach (Reservation r in Reservations) ops.Add(WriterOp.Rsv(r.Address, r.Size));
        ops.Add(WriterOp.FinishRsv);
        Emit(Root, ops);
        ops.Add(WriterOp.Finish);
        return ops.ToImmutable();
    }

    private static void Emit(TreeNode n, ImmutableArray<WriterOp>.Builder ops)
    {
        ops.Add(WriterOp.Begin(n.Name));
        foreach (TreeProp p in n.Props) ops.Add(WriterOp.Prop(p.Name, p.Value));
        foreach (TreeNode c in n.Children) Emit(c, ops);
        ops.Add(WriterOp.End);
    }

    /// <summary>Walks the model in document order; returns the offset just after the node's FDT_END_NODE.</summary>
    private static int Place(TreeNode n, string path, int depth, int offset, List<PlacedNode>? list)
    {
        list?.Add(new PlacedNode(path, depth, offset, n));
        int cur = offset + FdtConst.TagSize + FdtConst.TagAlign(Encoding.UTF8.GetByteCount(n.Name) + 1);
        foreach (TreeProp p in n.Props) cur += FdtConst.PropHeaderSize + FdtConst.TagAlign(p.Value.Length);
        foreach (TreeNode c in n.Children) cur = Place(c, ChildPath(path, c.Name), depth + 1, cur, list);
        return cur + FdtConst.TagSize;
    }

    /// <summary>"/" + name for children of the root, parent + "/" + name otherwise.</summary>
    public static string ChildPath(string parent, string name) => parent == "/" ? "/" + name : parent + "/" + name;
}

/// <summary>Which libfdt sequential-write call a <see cref="WriterOp"/> is.</summary>
public enum WriterOpKind { Rsv, FinishRsv, Begin, Prop, End, Finish }

/// <summary>One sequential-writer call, so a build can be replayed, interrupted and resumed.</summary>
public sealed record WriterOp(WriterOpKind Kind, string Name, byte[] Value, ulong Address, ulong Size)
{
    /// <summary>fdt_add_reservemap_entry().</summary>
    public static WriterOp Rsv(ulong address, ulong size) => new(WriterOpKind.Rsv, "", [], address, size);
    /// <summary>fdt_finish_reservemap().</summary>
    public static WriterOp FinishRsv { get; } = new(WriterOpKind.FinishRsv, "", [], 0, 0);
    /// <summary>fdt_begin_node().</summary>
    public static WriterOp Begin(string name) => new(WriterOpKind.Begin, name, [], 0, 0);
    /// <summary>fdt_property().</summary>
    public static WriterOp Prop(string name, byte[] value) => new(WriterOpKind.Prop, name, value, 0, 0);
    /// <summary>fdt_end_node().</summary>
    public static WriterOp End { get; } = new(WriterOpKind.End, "", [], 0, 0);
    /// <summary>fdt_finish().</summary>
    public static WriterOp Finish { get; } = new(WriterOpKind.Finish, "", [], 0, 0);

    /// <summary>Performs the call; returns the libfdt result.</summary>
    public int Apply(FdtWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        return Kind switch
        {
            WriterOpKind.Rsv => w.AddReservemapEntry(Address, Size),
            WriterOpKind.FinishRsv => w.FinishReservemap(),
            WriterOpKind.Begin => w.BeginNode(Name),
            WriterOpKind.Prop => w.Property(Name, Value),
            WriterOpKind.End => w.EndNode(),
            _ => w.Finish(),
        };
    }

    /// <summary>Readable form for labels.</summary>
    public override string ToString() => Kind switch
    {
        WriterOpKind.Rsv => $"add_reservemap_entry(0x{Address:x}, 0x{Size:x})",
        WriterOpKind.Begin => $"begin_node(\"{Name}\")",
        WriterOpKind.Prop => $"property(\"{Name}\", [{Value.Length}])",
        _ => Kind.ToString(),
    };
}
