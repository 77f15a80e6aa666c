namespace LuoModel.Fdt;

public static partial class Fdt
{
    /// <summary>
    /// fdt_check_full() of libfdt 1.6.1 (fdt.md §9): header, buffer length, reservation-map terminator, then a
    /// walk of every token checking nesting, the empty root name and every property name. The span length
    /// is the buffer size. Iterative: any nesting depth is accepted, as in libfdt.
    /// </summary>
    public static int CheckFull(ReadOnlySpan<byte> fdt)
    {
        int bufsize = fdt.Length;
        if (bufsize < FdtConst.V1Size) return FdtError.Truncated.Neg();
        if (bufsize < HeaderSize(fdt)) return FdtError.Truncated.Neg();
        int err = CheckHeader(fdt);
        if (err != 0) return err;
        if ((uint)bufsize < TotalSize(fdt)) return FdtError.Truncated.Neg();
        int numRsv = NumMemRsv(fdt);
        if (numRsv < 0) return numRsv;

        var v = new FdtView(fdt);
        int nextOffset = 0;
        long depth = 0;
        bool expectEnd = false;
        while (true)
        {
            int offset = nextOffset;
            uint tag = NextTag(fdt, in v, offset, out nextOffset);
            if (nextOffset < 0) return nextOffset;
            if (expectEnd && tag != FdtConst.End) return FdtError.BadStructure.Neg();
            switch (tag)
            {
                case FdtConst.Nop:
                    break;
                case FdtConst.End:
                    return depth != 0 ? FdtError.BadStructure.Neg() : 0;
                case FdtConst.BeginNode:
                    depth++;
                    if (depth > int.MaxValue) return FdtError.BadStructure.Neg();
                    if (depth == 1)
                    {
                        int name = GetName(fdt, in v, offset, out int len);
                        if (name < 0) return len;
                        if (len != 0) return FdtError.BadStructure.Neg();
                    }
                    break;
                case FdtConst.EndNode:
                    if (depth == 0) return FdtError.BadStructure.Neg();
                    depth--;
                    if (depth == 0) expectEnd = true;
                    break;
                case FdtConst.Prop:
                    int value = GetPropByOffset(fdt, in v, offset, out _, out _, out int plen);
                    if (value < 0) return plen;
                    break;
                default:
                    return FdtError.Internal.Neg();
            }
        }
    }
}
