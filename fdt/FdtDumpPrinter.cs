using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace LuoModel.Fdt;

/// <summary>
/// The output of <c>fdtdump</c> 1.6.1 (fdt.md §11): the header as <c>//</c> comment lines, the reservations as
/// <c>/memreserve/</c> lines, then every token of the structure block in order, 4 spaces per level, the
/// root shown as <c>/</c> and each FDT_NOP as <c>// [NOP]</c>.
/// </summary>
/// <remarks>
/// Like fdtdump this is a debugging view: it does not run <see cref="Fdt.CheckFull"/> and walks the tokens
/// itself from <c>off_dt_struct</c> to FDT_END, so it also shows blobs libfdt rejects. fdtdump reads through
/// raw pointers; here every read is bounded by the span, and the walk stops with a negated libfdt code where
/// fdtdump would read outside the file or gives up: span shorter than the 40-byte header (TRUNCATED, nothing
/// printed), magic not 0xd00dfeed (BADMAGIC, nothing printed), reservation map or token running past the end
/// (TRUNCATED), node name without NUL or property value past the end (BADSTRUCTURE), property name outside the
/// span (BADOFFSET) or without NUL (TRUNCATED), unknown token (BADSTRUCTURE, where fdtdump prints
/// "Unknown tag" and stops), nesting deeper than <c>maxDepth</c> (BADSTRUCTURE; the indentation makes the text
/// grow with depth squared). Unbalanced nesting is printed as fdtdump prints it (a negative depth indents like
/// printf's negative field width) and, once FDT_END is reached, reported as BADSTRUCTURE. What was printed
/// before a stop stays written.
/// </remarks>
public static class FdtDumpPrinter
{
    /// <summary>Deepest node level printed by default (the root's content is at level 1).</summary>
    public const int DefaultMaxDepth = 1024;

    private const int Shift = 4;

    /// <summary>Dumps the blob; returns 0 when FDT_END was reached with balanced nesting, else a negated libfdt code.</summary>
    public static int Print(ReadOnlySpan<byte> blob, TextWriter w, int maxDepth = DefaultMaxDepth)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (blob.Length < FdtConst.HeaderSize) return FdtError.Truncated.Neg();
        if (Fdt.Magic(blob) != FdtConst.Magic) return FdtError.BadMagic.Neg();
        WriteHeader(blob, w);
        int err = WriteReservations(blob, w);
        return err < 0 ? err : WriteStructure(blob, w, maxDepth);
    }

    /// <summary>The dump as a string (whatever was printed before a stop), with the result code.</summary>
    public static string ToText(ReadOnlySpan<byte> blob, out int err, int maxDepth = DefaultMaxDepth)
    {
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        err = Print(blob, sw, maxDepth);
        return sw.ToString();
    }

    private static void WriteHeader(ReadOnlySpan<byte> blob, TextWriter w)
    {
        uint version = Fdt.Version(blob), total = Fdt.TotalSize(blob);
        var c = CultureInfo.InvariantCulture;
        w.Write("/dts-v1/;\n");
        w.Write(string.Create(c, $"// magic:\t\t0x{Fdt.Magic(blob):x}\n"));
        w.Write(string.Create(c, $"// totalsize:\t\t0x{total:x} ({total})\n"));
        w.Write(string.Create(c, $"// off_dt_struct:\t0x{Fdt.OffDtStruct(blob):x}\n"));
        w.Write(string.Create(c, $"// off_dt_strings:\t0x{Fdt.OffDtStrings(blob):x}\n"));
        w.Write(string.Create(c, $"// off_mem_rsvmap:\t0x{Fdt.OffMemRsvmap(blob):x}\n"));
        w.Write(string.Create(c, $"// version:\t\t{version}\n"));
        w.Write(string.Create(c, $"// last_comp_version:\t{Fdt.LastCompVersion(blob)}\n"));
        if (version >= 2) w.Write(string.Create(c, $"// boot_cpuid_phys:\t0x{Fdt.BootCpuidPhys(blob):x}\n"));
        if (version >= 3) w.Write(string.Create(c, $"// size_dt_strings:\t0x{Fdt.SizeDtStrings(blob):x}\n"));
        if (version >= 17) w.Write(string.Create(c, $"// size_dt_struct:\t0x{Fdt.SizeDtStruct(blob):x}\n"));
        w.Write('\n');
    }

    /// <summary>fdtdump stops at the first entry whose address and size are both 0 (fdt.md §3), not at size 0.</summary>
    private static int WriteReservations(ReadOnlySpan<byte> blob, TextWriter w)
    {
        for (long abs = Fdt.OffMemRsvmap(blob); ; abs += FdtConst.ReserveEntrySize)
        {
            if (abs + FdtConst.ReserveEntrySize > blob.Length) return FdtError.Truncated.Neg();
            ulong addr = BinaryPrimitives.ReadUInt64BigEndian(blob.Slice((int)abs, 8));
            ulong size = BinaryPrimitives.ReadUInt64BigEndian(blob.Slice((int)abs + 8, 8));
            if (addr == 0 && size == 0) return 0;
            w.Write("/memreserve/ ");
            w.Write(AltHex(addr));
            w.Write(' ');
            w.Write(AltHex(size));
            w.Write(";\n");
        }
    }

    /// <summary>printf's <c>%#llx</c>: <c>0x</c> prefix except for zero.</summary>
    private static string AltHex(ulong v) => v == 0 ? "0" : string.Create(CultureInfo.InvariantCulture, $"0x{v:x}");

    private static long Align(long x, int a) => (x + (a - 1)) & ~(long)(a - 1);

    private static int WriteStructure(ReadOnlySpan<byte> blob, TextWriter w, int maxDepth)
    {
        uint version = Fdt.Version(blob);
        long strings = Fdt.OffDtStrings(blob);
        long p = Fdt.OffDtStruct(blob);
        long depth = 0;
        bool wentNegative = false;
        while (true)
        {
            if (p + FdtConst.TagSize > blob.Length) return FdtError.Truncated.Neg();
            uint tag = BinaryPrimitives.ReadUInt32BigEndian(blob.Slice((int)p, 4));
            p += FdtConst.TagSize;
            switch (tag)
            {
                case FdtConst.End:
                    // Printed like fdtdump; the code then reports nesting that did not balance.
                    return depth == 0 && !wentNegative ? 0 : FdtError.BadStructure.Neg();
                case FdtConst.BeginNode:
                {
                    int nul = blob[(int)p..].IndexOf((byte)0);
                    if (nul < 0) return FdtError.BadStructure.Neg();
                    if (Math.Abs(depth + 1) > maxDepth) return FdtError.BadStructure.Neg();
                    ReadOnlySpan<byte> name = blob.Slice((int)p, nul);
                    p = Align(p + nul + 1, 4);
                    Indent(w, depth);
                    w.Write(name.IsEmpty ? "/" : Encoding.UTF8.GetString(name));
                    w.Write(" {\n");
                    depth++;
                    break;
                }
                case FdtConst.EndNode:
                    depth--;
                    if (depth < 0) wentNegative = true;
                    if (Math.Abs(depth) > maxDepth) return FdtError.BadStructure.Neg();
                    Indent(w, depth);
                    w.Write("};\n");
                    break;
                case FdtConst.Nop:
                    Indent(w, depth);
                    w.Write("// [NOP]\n");
                    break;
                case FdtConst.Prop:
                {
                    if (p + 8 > blob.Length) return FdtError.Truncated.Neg();
                    int sz = BinaryPrimitives.ReadInt32BigEndian(blob.Slice((int)p, 4));
                    uint nameoff = BinaryPrimitives.ReadUInt32BigEndian(blob.Slice((int)p + 4, 4));
                    p += 8;
                    long nameAbs = strings + nameoff;
                    if (nameAbs >= blob.Length) return FdtError.BadOffset.Neg();
                    int nameLen = blob[(int)nameAbs..].IndexOf((byte)0);
                    if (nameLen < 0) return FdtError.Truncated.Neg();
                    if (version < 16 && sz >= 8) p = Align(p, 8);
                    if (sz < 0 || p + sz > blob.Length) return FdtError.BadStructure.Neg();
                    ReadOnlySpan<byte> value = blob.Slice((int)p, sz);
                    p = Align(p + sz, 4);
                    Indent(w, depth);
                    w.Write(Encoding.UTF8.GetString(blob.Slice((int)nameAbs, nameLen)));
                    WriteData(w, value);
                    w.Write(";\n");
                    break;
                }
                default:
                    return FdtError.BadStructure.Neg();
            }
        }
    }

    /// <summary>printf's <c>%*s</c> with width depth*4: a negative width pads the same number of spaces.</summary>
    private static void Indent(TextWriter w, long depth)
    {
        long n = Math.Abs(depth) * Shift;
        for (long i = 0; i < n; i++) w.Write(' ');
    }

    /// <summary>util_is_printable_string() of dtc 1.6.1: NUL-terminated, non-empty printable pieces separated by single NULs.</summary>
    public static bool IsPrintableStringList(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || data[^1] != 0) return false;
        int i = 0;
        while (i < data.Length)
        {
            int start = i;
            while (i < data.Length && data[i] is >= 0x20 and < 0x7f) i++;
            if (i == data.Length || data[i] != 0 || i == start) return false;
            i++;
        }
        return true;
    }

    /// <summary>utilfdt_print_data(): nothing for an empty value, else <c> = </c> and strings, cells or bytes.</summary>
    private static void WriteData(TextWriter w, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        var c = CultureInfo.InvariantCulture;
        if (IsPrintableStringList(data))
        {
            w.Write(" = ");
            bool firstString = true;
            foreach (Range r in data[..^1].Split((byte)0))
            {
                if (!firstString) w.Write(", ");
                firstString = false;
                w.Write('"');
                w.Write(Encoding.ASCII.GetString(data[r]));
                w.Write('"');
            }
        }
        else if (data.Length % 4 == 0)
        {
            w.Write(" = <");
            for (int i = 0; i < data.Length; i += 4)
            {
                if (i > 0) w.Write(' ');
                w.Write(string.Create(c, $"0x{BinaryPrimitives.ReadUInt32BigEndian(data.Slice(i, 4)):x8}"));
            }
            w.Write('>');
        }
        else
        {
            w.Write(" = [");
            for (int i = 0; i < data.Length; i++)
            {
                if (i > 0) w.Write(' ');
                w.Write(string.Create(c, $"{data[i]:x2}"));
            }
            w.Write(']');
        }
    }
}
