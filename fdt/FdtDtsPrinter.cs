using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace LuoModel.Fdt;

/// <summary>The value shapes dtc's guess can produce.</summary>
public enum FdtValueKind
{
    /// <summary>Zero-length value: <c>name;</c>.</summary>
    Empty,
    /// <summary>NUL-terminated printable text (a string list is one string with <c>\0</c> inside).</summary>
    String,
    /// <summary>Big-endian 32-bit cells: <c>&lt;0x1 0x2&gt;</c>.</summary>
    Cells,
    /// <summary>Bytes: <c>[01 02]</c>.</summary>
    Bytes,
}

/// <summary>
/// DTS source text exactly as <c>dtc -I dtb -O dts</c> 1.6.1 writes it (fdt.md §11): <c>/dts-v1/;</c>, the
/// reservations, then the tree with one tab per level, properties before children and a blank line before
/// each child node. Value types are guessed from the bytes as dtc does (see <see cref="FdtDtsPrinter.GuessValueKind"/>).
/// </summary>
/// <remarks>
/// The blob is validated with <see cref="Fdt.CheckFull"/> first and nothing is written unless it passes.
/// Beyond that, the printer refuses (with <c>-FDT_ERR_BADSTRUCTURE</c>) what dtc refuses for structural reasons:
/// a structure block whose first token is not the root's FDT_BEGIN_NODE (leading NOP, property before the
/// root, no root at all). Versions below 16 (full-path node names) get <c>-FDT_ERR_BADVERSION</c>
/// (fdt.md §2: the model reads 16 and 17 only). Nesting deeper than <c>maxDepth</c> levels below the root also
/// gives <c>-FDT_ERR_BADSTRUCTURE</c>, because the text grows with depth squared (fdt.md §12 item 26).
/// Content that dtc only reports through its checks (bad name characters, duplicate names) is printed as is,
/// like <c>dtc -f</c>; a property placed after a subnode is printed with the node's other properties, as dtc
/// does when it rebuilds the tree. A <c>name</c> property equal to the node's base name is dropped, as dtc's
/// <c>name_properties</c> check does.
/// </remarks>
public static class FdtDtsPrinter
{
    /// <summary>Deepest node level (root = 0) printed by default.</summary>
    public const int DefaultMaxDepth = 1024;

    private struct NodeRec
    {
        public int NameAbs, NameLen, FirstProp, LastProp, FirstChild, LastChild, NextSibling, Cursor;
    }

    private struct PropRec
    {
        public int NameAbs, NameLen, ValueAbs, ValueLen, Next;
    }

    /// <summary>Prints the blob as dtc does; returns 0, or a negated libfdt code (then nothing was written).</summary>
    public static int Print(ReadOnlySpan<byte> fdt, TextWriter w, int maxDepth = DefaultMaxDepth)
    {
        ArgumentNullException.ThrowIfNull(w);
        int err = Fdt.CheckFull(fdt);
        if (err < 0) return err;
        if (Fdt.Version(fdt) < 16) return FdtError.BadVersion.Neg();
        int nrsv = Fdt.NumMemRsv(fdt);
        if (nrsv < 0) return nrsv;
        err = BuildTree(fdt, maxDepth, out List<NodeRec> nodes, out List<PropRec> props);
        if (err < 0) return err;

        w.Write("/dts-v1/;\n\n");
        for (int i = 0; i < nrsv; i++)
        {
            err = Fdt.GetMemRsv(fdt, i, out ulong addr, out ulong size);
            if (err < 0) return err;
            w.Write(string.Create(CultureInfo.InvariantCulture, $"/memreserve/\t0x{addr:x16} 0x{size:x16};\n"));
        }
        WriteTree(fdt, w, nodes, props);
        return 0;
    }

    /// <summary>The DTS text as a string, with the result code (empty text on error).</summary>
    public static string ToText(ReadOnlySpan<byte> fdt, out int err, int maxDepth = DefaultMaxDepth)
    {
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        err = Print(fdt, sw, maxDepth);
        return err < 0 ? string.Empty : sw.ToString();
    }

    /// <summary>
    /// Rebuilds the node tree from the token stream (iteratively, any depth up to <paramref name="maxDepth"/>),
    /// recording name and value positions, so that printing afterwards cannot fail.
    /// </summary>
    private static int BuildTree(ReadOnlySpan<byte> fdt, int maxDepth, out List<NodeRec> nodes, out List<PropRec> props)
    {
        nodes = [];
        props = [];
        var open = new List<int>();
        bool first = true;
        int offset = 0;
        while (true)
        {
            uint tag = Fdt.NextTag(fdt, offset, out int next);
            if (next < 0) return next;
            if (first && tag != FdtConst.BeginNode) return FdtError.BadStructure.Neg();   // dtc: no leading NOP/prop
            first = false;
            switch (tag)
            {
                case FdtConst.BeginNode:
                {
                    if (open.Count > maxDepth) return FdtError.BadStructure.Neg();
                    if (open.Count == 0 && nodes.Count != 0) return FdtError.BadStructure.Neg();   // second root
                    int nameAbs = Fdt.GetName(fdt, offset, out int nameLen);
                    if (nameAbs < 0) return nameLen;
                    int idx = nodes.Count;
                    nodes.Add(new NodeRec { NameAbs = nameAbs, NameLen = nameLen, FirstProp = -1, LastProp = -1, FirstChild = -1, LastChild = -1, NextSibling = -1 });
                    if (open.Count > 0)
                    {
                        Span<NodeRec> all = CollectionsMarshal.AsSpan(nodes);
                        ref NodeRec parent = ref all[open[^1]];
                        if (parent.LastChild < 0) parent.FirstChild = idx; else all[parent.LastChild].NextSibling = idx;
                        parent.LastChild = idx;
                    }
                    open.Add(idx);
                    break;
                }
                case FdtConst.EndNode:
                    if (open.Count == 0) return FdtError.BadStructure.Neg();
                    open.RemoveAt(open.Count - 1);
                    break;
                case FdtConst.Prop:
                {
                    if (open.Count == 0) return FdtError.BadStructure.Neg();
                    int valueAbs = Fdt.GetPropByOffset(fdt, offset, out int nameAbs, out int nameLen, out int len);
                    if (valueAbs < 0) return len;
                    if ((long)valueAbs + len > fdt.Length) return FdtError.BadStructure.Neg();
                    int idx = props.Count;
                    props.Add(new PropRec { NameAbs = nameAbs, NameLen = nameLen, ValueAbs = valueAbs, ValueLen = len, Next = -1 });
                    Span<NodeRec> all = CollectionsMarshal.AsSpan(nodes);
                    ref NodeRec node = ref all[open[^1]];
                    if (node.LastProp < 0) node.FirstProp = idx; else CollectionsMarshal.AsSpan(props)[node.LastProp].Next = idx;
                    node.LastProp = idx;
                    break;
                }
                case FdtConst.Nop:
                    break;
                case FdtConst.End:
                    return open.Count == 0 && nodes.Count > 0 ? 0 : FdtError.BadStructure.Neg();
                default:
                    return FdtError.BadStructure.Neg();
            }
            offset = next;
        }
    }

    /// <summary>Writes the tree depth-first with an explicit stack (no recursion on untrusted depth).</summary>
    private static void WriteTree(ReadOnlySpan<byte> fdt, TextWriter w, List<NodeRec> nodes, List<PropRec> props)
    {
        Span<NodeRec> all = CollectionsMarshal.AsSpan(nodes);
        var stack = new List<int>();
        WriteNodeHead(fdt, w, all[0], props, 0);
        all[0].Cursor = all[0].FirstChild;
        stack.Add(0);
        while (stack.Count > 0)
        {
            ref NodeRec top = ref all[stack[^1]];
            int level = stack.Count - 1;
            if (top.Cursor >= 0)
            {
                int child = top.Cursor;
                top.Cursor = all[child].NextSibling;
                w.Write('\n');
                WriteNodeHead(fdt, w, all[child], props, level + 1);
                all[child].Cursor = all[child].FirstChild;
                stack.Add(child);
            }
            else
            {
                WriteTabs(w, level);
                w.Write("};\n");
                stack.RemoveAt(stack.Count - 1);
            }
        }
    }

    private static void WriteNodeHead(ReadOnlySpan<byte> fdt, TextWriter w, in NodeRec node, List<PropRec> props, int level)
    {
        ReadOnlySpan<byte> name = fdt.Slice(node.NameAbs, node.NameLen);
        WriteTabs(w, level);
        w.Write(name.IsEmpty ? "/" : Encoding.UTF8.GetString(name));
        w.Write(" {\n");
        int baseLen = name.IndexOf((byte)'@');
        if (baseLen < 0) baseLen = name.Length;
        bool nameSeen = false;
        for (int p = node.FirstProp; p >= 0; p = props[p].Next)
        {
            PropRec prop = props[p];
            ReadOnlySpan<byte> pname = fdt.Slice(prop.NameAbs, prop.NameLen);
            ReadOnlySpan<byte> value = fdt.Slice(prop.ValueAbs, prop.ValueLen);
            if (!nameSeen && pname.SequenceEqual("name"u8))
            {
                nameSeen = true;   // dtc looks only at the first "name" property
                if (value.Length == baseLen + 1 && value[baseLen] == 0 && value[..baseLen].SequenceEqual(name[..baseLen])) continue;
            }
            WriteTabs(w, level + 1);
            w.Write(Encoding.UTF8.GetString(pname));
            WriteValue(w, value);
            w.Write('\n');
        }
    }

    private static void WriteTabs(TextWriter w, int level)
    {
        for (int i = 0; i < level; i++) w.Write('\t');
    }

    /// <summary>dtc's isstring(): printable ASCII, NUL, or one of \a \b \t \n \v \f \r.</summary>
    private static bool IsStringByte(byte b) => b is 0 or (>= 0x20 and < 0x7f) or (>= 0x07 and <= 0x0d);

    /// <summary>
    /// dtc 1.6.1's guess_value_type() for a value without type markers (fdt.md §11): a string when the value
    /// ends in NUL, every byte is a string byte and NULs are not the majority; else cells when the length is a
    /// multiple of 4; else bytes.
    /// </summary>
    public static FdtValueKind GuessValueKind(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty) return FdtValueKind.Empty;
        int notString = 0, nul = 0;
        foreach (byte b in value)
        {
            if (!IsStringByte(b)) notString++;
            if (b == 0) nul++;
        }
        if (value[^1] == 0 && notString == 0 && nul <= value.Length - nul) return FdtValueKind.String;
        return value.Length % 4 == 0 ? FdtValueKind.Cells : FdtValueKind.Bytes;
    }

    /// <summary>The text after a property name: <c>;</c> or <c> = value;</c> (dtc's write_propval()).</summary>
    public static string FormatValue(ReadOnlySpan<byte> value)
    {
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        WriteValue(sw, value);
        return sw.ToString();
    }

    private static void WriteValue(TextWriter w, ReadOnlySpan<byte> value)
    {
        switch (GuessValueKind(value))
        {
            case FdtValueKind.Empty:
                w.Write(';');
                return;
            case FdtValueKind.String:
                w.Write(" = \"");
                WriteEscaped(w, value[..^1]);
                w.Write("\";");
                return;
            case FdtValueKind.Cells:
                w.Write(" = <");
                for (int i = 0; i < value.Length; i += 4)
                {
                    if (i > 0) w.Write(' ');
                    uint cell = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(value.Slice(i, 4));
                    w.Write(string.Create(CultureInfo.InvariantCulture, $"0x{cell:x2}"));
                }
                w.Write(">;");
                return;
            default:
                w.Write(" = [");
                for (int i = 0; i < value.Length; i++)
                {
                    if (i > 0) w.Write(' ');
                    w.Write(string.Create(CultureInfo.InvariantCulture, $"{value[i]:x2}"));
                }
                w.Write("];");
                return;
        }
    }

    /// <summary>dtc's write_propval_string() body: C escapes, <c>\0</c> between list entries.</summary>
    private static void WriteEscaped(TextWriter w, ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            switch (b)
            {
                case 0x07: w.Write("\\a"); break;
                case 0x08: w.Write("\\b"); break;
                case 0x09: w.Write("\\t"); break;
                case 0x0a: w.Write("\\n"); break;
                case 0x0b: w.Write("\\v"); break;
                case 0x0c: w.Write("\\f"); break;
                case 0x0d: w.Write("\\r"); break;
                case (byte)'\\': w.Write("\\\\"); break;
                case (byte)'"': w.Write("\\\""); break;
                case 0: w.Write("\\0"); break;
                default:
                    if (b is >= 0x20 and < 0x7f) w.Write((char)b);
                    else w.Write(string.Create(CultureInfo.InvariantCulture, $"\\x{b:x2}"));
                    break;
            }
        }
    }
}
