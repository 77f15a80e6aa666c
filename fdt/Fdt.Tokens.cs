using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace LuoModel.Fdt;

public static partial class Fdt
{
    /// <summary>
    /// The largest structure-relative end offset that <c>fdt_offset_ptr()</c> accepts: bounded by totalsize,
    /// by size_dt_struct from version 17, and (beyond libfdt) by the span. Negative when nothing is readable.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long StructLimit(ReadOnlySpan<byte> fdt)
    {
        long offStruct = OffDtStruct(fdt);
        long limit = Math.Min((long)TotalSize(fdt), fdt.Length) - offStruct;
        if (Version(fdt) >= 0x11) limit = Math.Min(limit, SizeDtStruct(fdt));
        return limit;
    }

    /// <summary>
    /// fdt_offset_ptr(): the absolute span offset of <paramref name="len"/> bytes at structure offset
    /// <paramref name="offset"/>, or -1 where libfdt returns NULL.
    /// </summary>
    public static int OffsetPtr(ReadOnlySpan<byte> fdt, int offset, uint len)
    {
        if (offset < 0) return -1;
        if ((long)offset + len > StructLimit(fdt)) return -1;
        return (int)(offset + OffDtStruct(fdt));
    }

    /// <summary>
    /// fdt_next_tag(): the tag at <paramref name="startOffset"/> and, in <paramref name="nextOffset"/>, the
    /// offset of the following tag. A premature end or an unknown tag reads as FDT_END with a negative
    /// <paramref name="nextOffset"/> (TRUNCATED or BADSTRUCTURE), exactly as in libfdt 1.6.1, including the
    /// 32-bit wrap of a huge property length.
    /// </summary>
    public static uint NextTag(ReadOnlySpan<byte> fdt, int startOffset, out int nextOffset)
    {
        var v = new FdtView(fdt);
        return NextTag(fdt, in v, startOffset, out nextOffset);
    }

    /// <summary>fdt_next_tag() with the header already read (hot path of the walkers).</summary>
    internal static uint NextTag(ReadOnlySpan<byte> fdt, in FdtView v, int startOffset, out int nextOffset)
    {
        uint offStruct = v.OffStruct;
        long limit = v.StructLimit;
        nextOffset = FdtError.Truncated.Neg();
        if (startOffset < 0 || startOffset + 4L > limit) return FdtConst.End;   // premature end
        int abs = (int)(startOffset + offStruct);
        uint tag = BinaryPrimitives.ReadUInt32BigEndian(fdt.Slice(abs, 4));
        int offset = startOffset + FdtConst.TagSize;

        nextOffset = FdtError.BadStructure.Neg();
        switch (tag)
        {
            case FdtConst.BeginNode:
            {
                // The name runs to the first NUL that lies inside the structure block.
                long avail = limit - offset;
                if (avail <= 0) return FdtConst.End;
                int nul = fdt.Slice((int)(offset + offStruct), (int)avail).IndexOf((byte)0);
                if (nul < 0) return FdtConst.End;
                offset += nul + 1;
                break;
            }
            case FdtConst.Prop:
            {
                if (offset + 4L > limit) return FdtConst.End;
                uint len = BinaryPrimitives.ReadUInt32BigEndian(fdt.Slice((int)(offset + offStruct), 4));
                // libfdt 1.7.0's overflow guard (fdt.md §13): offset + len at or past INT_MAX is a premature end
                // (BADSTRUCTURE, the code 1.6.1 also gives for huge lengths). 1.6.1 adds in 32-bit arithmetic,
                // and a length of -12 (or -8 for old versions) leaves the offset where it was, or walks it back:
                // its walkers then loop forever on the same property. A model must not hang (fuzz finding 2).
                if ((long)offset + len >= int.MaxValue) return FdtConst.End;
                offset = unchecked((int)(offset + 8L + len));
                if (v.Version < 0x10 && len >= 8 && ((offset - len) % 8) != 0) offset += 4;
                break;
            }
            case FdtConst.End:
            case FdtConst.EndNode:
            case FdtConst.Nop:
                break;
            default:
                return FdtConst.End;
        }

        // The whole item must lie inside the block (checked as an unsigned length, as libfdt does).
        uint itemLen = unchecked((uint)(offset - startOffset));
        if (startOffset + (long)itemLen > limit) return FdtConst.End;
        nextOffset = unchecked((offset + 3) & ~3);
        return tag;
    }

    /// <summary>fdt_check_node_offset_(): the offset after the BEGIN_NODE at <paramref name="offset"/>, or BADOFFSET.</summary>
    public static int CheckNodeOffset(ReadOnlySpan<byte> fdt, int offset)
    {
        var v = new FdtView(fdt);
        return CheckNodeOffset(fdt, in v, offset);
    }

    internal static int CheckNodeOffset(ReadOnlySpan<byte> fdt, in FdtView v, int offset)
    {
        if (offset < 0 || (offset % FdtConst.TagSize) != 0) return FdtError.BadOffset.Neg();
        if (NextTag(fdt, in v, offset, out int next) != FdtConst.BeginNode) return FdtError.BadOffset.Neg();
        return next;
    }

    /// <summary>fdt_check_prop_offset_(): the offset after the FDT_PROP at <paramref name="offset"/>, or BADOFFSET.</summary>
    public static int CheckPropOffset(ReadOnlySpan<byte> fdt, int offset)
    {
        var v = new FdtView(fdt);
        return CheckPropOffset(fdt, in v, offset);
    }

    internal static int CheckPropOffset(ReadOnlySpan<byte> fdt, in FdtView v, int offset)
    {
        if (offset < 0 || (offset % FdtConst.TagSize) != 0) return FdtError.BadOffset.Neg();
        if (NextTag(fdt, in v, offset, out int next) != FdtConst.Prop) return FdtError.BadOffset.Neg();
        return next;
    }
}
