using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Fdt;

/// <summary>
/// libfdt's read-write API (fdt_rw.c, fdt_wip.c; fdt.md §8 "Read-write API", kho.md §4.3) over a blob in a
/// span whose totalsize is the room available. Every edit moves bytes exactly as libfdt's memmove-based
/// splicing does, so the results are byte-identical — including the stale bytes libfdt leaves in value
/// padding of a resized property and past the end after <see cref="Pack"/>.
/// </summary>
public static class FdtRw
{
    private static int RwProbe(Span<byte> fdt)
    {
        int err = Fdt.RoProbe(fdt);
        if (err < 0) return err;
        if (Fdt.Version(fdt) < 17) return FdtError.BadVersion.Neg();
        if (BlocksMisordered(fdt, FdtConst.ReserveEntrySize, Fdt.SizeDtStruct(fdt))) return FdtError.BadLayout.Neg();
        if (Fdt.TotalSize(fdt) > (uint)fdt.Length) return FdtError.Truncated.Neg();   // beyond libfdt: the span is the memory
        if (Fdt.Version(fdt) > FdtConst.LastSupportedVersion) Fdt.SetVersion(fdt, FdtConst.LastSupportedVersion);
        return 0;
    }

    /// <summary>fdt_blocks_misordered_().</summary>
    private static bool BlocksMisordered(ReadOnlySpan<byte> fdt, long memRsvSize, long structSize) =>
        Fdt.OffMemRsvmap(fdt) < 40
        || Fdt.OffDtStruct(fdt) < Fdt.OffMemRsvmap(fdt) + memRsvSize
        || Fdt.OffDtStrings(fdt) < Fdt.OffDtStruct(fdt) + structSize
        || Fdt.TotalSize(fdt) < (long)Fdt.OffDtStrings(fdt) + Fdt.SizeDtStrings(fdt);

    private static long DataSize(ReadOnlySpan<byte> fdt) => (long)Fdt.OffDtStrings(fdt) + Fdt.SizeDtStrings(fdt);

    /// <summary>fdt_splice_(): make room (or close a gap) at absolute offset <paramref name="p"/>.</summary>
    private static int Splice(Span<byte> fdt, long p, long oldlen, long newlen)
    {
        long dsize = DataSize(fdt);
        if (oldlen < 0 || p + oldlen > dsize) return FdtError.BadOffset.Neg();
        if (p < 0 || dsize + newlen < oldlen) return FdtError.BadOffset.Neg();
        if (dsize - oldlen + newlen > Fdt.TotalSize(fdt)) return FdtError.NoSpace.Neg();
        int count = (int)(dsize - (p + oldlen));
        fdt.Slice((int)(p + oldlen), count).CopyTo(fdt[(int)(p + newlen)..]);
        return 0;
    }

    /// <summary>fdt_splice_struct_().</summary>
    private static int SpliceStruct(Span<byte> fdt, long p, int oldlen, int newlen)
    {
        int err = Splice(fdt, p, oldlen, newlen);
        if (err != 0) return err;
        int delta = newlen - oldlen;
        Fdt.SetSizeDtStruct(fdt, (uint)(Fdt.SizeDtStruct(fdt) + delta));
        Fdt.SetOffDtStrings(fdt, (uint)(Fdt.OffDtStrings(fdt) + delta));
        return 0;
    }

    /// <summary>fdt_splice_mem_rsv_().</summary>
    private static int SpliceMemRsv(Span<byte> fdt, long p, int oldn, int newn)
    {
        int delta = (newn - oldn) * FdtConst.ReserveEntrySize;
        int err = Splice(fdt, p, oldn * FdtConst.ReserveEntrySize, newn * FdtConst.ReserveEntrySize);
        if (err != 0) return err;
        Fdt.SetOffDtStruct(fdt, (uint)(Fdt.OffDtStruct(fdt) + delta));
        Fdt.SetOffDtStrings(fdt, (uint)(Fdt.OffDtStrings(fdt) + delta));
        return 0;
    }

    /// <summary>fdt_find_string_(): first (lowest) offset in the table where <c>s\0</c> occurs, or -1.</summary>
    internal static int FindString(ReadOnlySpan<byte> table, ReadOnlySpan<byte> s)
    {
        int len = s.Length + 1;
        for (int p = 0; p <= table.Length - len; p++)
        {
            int hit = table[p..].IndexOf(s);
            if (hit < 0) return -1;
            p += hit;
            if (p > table.Length - len) return -1;
            if (table[p + s.Length] == 0) return p;
        }
        return -1;
    }

    /// <summary>fdt_find_add_string_(): offset of the name in the strings block, appending it at the end if absent.</summary>
    private static int FindAddString(Span<byte> fdt, ReadOnlySpan<byte> s, out bool allocated)
    {
        allocated = false;
        int strtab = (int)Fdt.OffDtStrings(fdt);
        int size = (int)Fdt.SizeDtStrings(fdt);
        int found = s.IsEmpty ? FindEmpty(fdt.Slice(strtab, size)) : FindString(fdt.Slice(strtab, size), s);
        if (found >= 0) return found;
        int err = Splice(fdt, (long)strtab + size, 0, s.Length + 1);
        if (err != 0) return err;
        Fdt.SetSizeDtStrings(fdt, (uint)(size + s.Length + 1));
        allocated = true;
        s.CopyTo(fdt[(strtab + size)..]);
        fdt[strtab + size + s.Length] = 0;
        return size;
    }

    private static int FindEmpty(ReadOnlySpan<byte> table) => table.IndexOf((byte)0);

    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> s)
    {
        int n = s.IndexOf((byte)0);
        return n < 0 ? s : s[..n];
    }

    private static int StructAbs(ReadOnlySpan<byte> fdt, int offset) => (int)(Fdt.OffDtStruct(fdt) + offset);

    /// <summary>fdt_move(): copy the blob (totalsize bytes) into another buffer.</summary>
    public static int Move(ReadOnlySpan<byte> fdt, Span<byte> buf)
    {
        int total = Fdt.RoProbe(fdt);
        if (total < 0) return total;
        if (total > buf.Length) return FdtError.NoSpace.Neg();
        if (total > fdt.Length) return FdtError.Truncated.Neg();
        fdt[..total].CopyTo(buf);
        return 0;
    }

    /// <summary>
    /// fdt_open_into(): make the blob editable in <paramref name="buf"/> (totalsize = buffer size). Blocks already
    /// in order are copied to the same offsets; otherwise they are packed from offset 40. The source and the
    /// destination may be the same memory.
    /// </summary>
    public static int OpenInto(ReadOnlySpan<byte> fdt, Span<byte> buf)
    {
        int err = Fdt.RoProbe(fdt);
        if (err < 0) return err;
        int num = Fdt.NumMemRsv(fdt);
        if (num < 0) return num;
        int memRsvSize = (num + 1) * FdtConst.ReserveEntrySize;
        int structSize;
        uint version = Fdt.Version(fdt);
        if (version >= 17)
        {
            structSize = (int)Fdt.SizeDtStruct(fdt);
            if (structSize < 0) return FdtError.Truncated.Neg();   // beyond libfdt: a size past INT_MAX cannot fit
        }
        else if (version == 16)
        {
            structSize = 0;
            while (Fdt.NextTag(fdt, structSize, out structSize) != FdtConst.End) { }
            if (structSize < 0) return structSize;
        }
        else
        {
            return FdtError.BadVersion.Neg();
        }

        if (!BlocksMisordered(fdt, memRsvSize, structSize))
        {
            err = Move(fdt, buf);
            if (err != 0) return err;
            Fdt.SetVersion(buf, 17);
            Fdt.SetSizeDtStruct(buf, (uint)structSize);
            Fdt.SetTotalSize(buf, (uint)buf.Length);
            return 0;
        }

        long newSize = 40L + memRsvSize + structSize + Fdt.SizeDtStrings(fdt);
        if (buf.Length < newSize) return FdtError.NoSpace.Neg();
        // libfdt copies each block from where the header puts it without checking it against totalsize; beyond
        // libfdt, every block (and totalsize) must lie inside the span, or the result is TRUNCATED.
        long srcEnd = Math.Max(Math.Max(Fdt.TotalSize(fdt), Fdt.OffMemRsvmap(fdt) + (long)memRsvSize),
            Math.Max(Fdt.OffDtStruct(fdt) + (long)structSize, (long)Fdt.OffDtStrings(fdt) + Fdt.SizeDtStrings(fdt)));
        if (srcEnd > fdt.Length) return FdtError.Truncated.Neg();
        // libfdt builds the packed copy in free space of the buffer; a pooled temporary gives the same bytes.
        byte[] tmp = ArrayPool<byte>.Shared.Rent((int)srcEnd);
        try
        {
            ReadOnlySpan<byte> old = fdt[..(int)srcEnd];
            old.CopyTo(tmp);
            ReadOnlySpan<byte> src = tmp.AsSpan(0, old.Length);
            uint boot = Fdt.BootCpuidPhys(src);
            PackBlocks(src, buf, memRsvSize, structSize, (int)Fdt.SizeDtStrings(src));
            Fdt.SetMagic(buf, FdtConst.Magic);
            Fdt.SetTotalSize(buf, (uint)buf.Length);
            Fdt.SetVersion(buf, 17);
            Fdt.SetLastCompVersion(buf, 16);
            Fdt.SetBootCpuidPhys(buf, boot);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tmp);
        }
        return 0;
    }

    /// <summary>fdt_packblocks_(): rsvmap at 40, struct after it, strings after struct.</summary>
    private static void PackBlocks(ReadOnlySpan<byte> old, Span<byte> dst, int memRsvSize, int structSize, int stringsSize)
    {
        const int memRsvOff = 40;
        int structOff = memRsvOff + memRsvSize;
        int stringsOff = structOff + structSize;
        uint oldRsv = Fdt.OffMemRsvmap(old), oldStruct = Fdt.OffDtStruct(old), oldStrings = Fdt.OffDtStrings(old), oldStrSize = Fdt.SizeDtStrings(old);
        old.Slice((int)oldRsv, memRsvSize).CopyTo(dst[memRsvOff..]);
        Fdt.SetOffMemRsvmap(dst, memRsvOff);
        old.Slice((int)oldStruct, structSize).CopyTo(dst[structOff..]);
        Fdt.SetOffDtStruct(dst, (uint)structOff);
        Fdt.SetSizeDtStruct(dst, (uint)structSize);
        old.Slice((int)oldStrings, stringsSize).CopyTo(dst[stringsOff..]);
        Fdt.SetOffDtStrings(dst, (uint)stringsOff);
        Fdt.SetSizeDtStrings(dst, oldStrSize);
    }

    /// <summary>fdt_pack(): lay the blocks out from offset 40 with no gaps; totalsize = end of strings.</summary>
    public static int Pack(Span<byte> fdt)
    {
        int err = RwProbe(fdt);
        if (err != 0) return err;
        int num = Fdt.NumMemRsv(fdt);
        if (num < 0) return num;
        int memRsvSize = (num + 1) * FdtConst.ReserveEntrySize;
        // In place: each block moves down (never up) because the layout is ordered, like libfdt's memmoves.
        const int memRsvOff = 40;
        int structSize = (int)Fdt.SizeDtStruct(fdt), stringsSize = (int)Fdt.SizeDtStrings(fdt);
        int structOff = memRsvOff + memRsvSize, stringsOff = structOff + structSize;
        fdt.Slice((int)Fdt.OffMemRsvmap(fdt), memRsvSize).CopyTo(fdt[memRsvOff..]);
        Fdt.SetOffMemRsvmap(fdt, memRsvOff);
        fdt.Slice((int)Fdt.OffDtStruct(fdt), structSize).CopyTo(fdt[structOff..]);
        Fdt.SetOffDtStruct(fdt, (uint)structOff);
        Fdt.SetSizeDtStruct(fdt, (uint)structSize);
        fdt.Slice((int)Fdt.OffDtStrings(fdt), stringsSize).CopyTo(fdt[stringsOff..]);
        Fdt.SetOffDtStrings(fdt, (uint)stringsOff);
        Fdt.SetTotalSize(fdt, (uint)DataSize(fdt));
        return 0;
    }

    /// <summary>fdt_add_mem_rsv(): append a reservation entry before the terminator.</summary>
    public static int AddMemRsv(Span<byte> fdt, ulong address, ulong size)
    {
        int err = RwProbe(fdt);
        if (err != 0) return err;
        int n = Fdt.NumMemRsv(fdt);
        if (n < 0) return n;
        long p = Fdt.OffMemRsvmap(fdt) + (long)n * FdtConst.ReserveEntrySize;
        err = SpliceMemRsv(fdt, p, 0, 1);
        if (err != 0) return err;
        BinaryPrimitives.WriteUInt64BigEndian(fdt[(int)p..], address);
        BinaryPrimitives.WriteUInt64BigEndian(fdt[((int)p + 8)..], size);
        return 0;
    }

    /// <summary>fdt_del_mem_rsv().</summary>
    public static int DelMemRsv(Span<byte> fdt, int n)
    {
        int err = RwProbe(fdt);
        if (err != 0) return err;
        int num = Fdt.NumMemRsv(fdt);
        if (num < 0) return num;
        if (n < 0 || n >= num) return FdtError.NotFound.Neg();
        return SpliceMemRsv(fdt, Fdt.OffMemRsvmap(fdt) + (long)n * FdtConst.ReserveEntrySize, 1, 0);
    }

    /// <summary>
    /// fdt_setprop_placeholder(): resize an existing property in place, or insert a new one right after the
    /// node's name (before its other properties). <paramref name="valueOffset"/> is the absolute offset of the value.
    /// </summary>
    public static int SetPropPlaceholder(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, int len, out int valueOffset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(len);
        valueOffset = -1;
        int err = RwProbe(fdt);
        if (err != 0) return err;
        name = CString(name);
        int prop = Fdt.GetPropertyOffset(fdt, nodeOffset, name, out int oldlen);
        if (prop >= 0)
        {
            int abs = StructAbs(fdt, prop);
            err = SpliceStruct(fdt, abs + FdtConst.PropHeaderSize, FdtConst.TagAlign(oldlen), FdtConst.TagAlign(len));
            if (err != 0) return err;
            BinaryPrimitives.WriteInt32BigEndian(fdt[(abs + 4)..], len);
            valueOffset = abs + FdtConst.PropHeaderSize;
            return 0;
        }
        if (prop != FdtError.NotFound.Neg()) return prop;
        return AddProperty(fdt, nodeOffset, name, len, out valueOffset);
    }

    /// <summary>fdt_add_property_().</summary>
    private static int AddProperty(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, int len, out int valueOffset)
    {
        valueOffset = -1;
        int next = Fdt.CheckNodeOffset(fdt, nodeOffset);
        if (next < 0) return next;
        int nameoff = FindAddString(fdt, name, out bool allocated);
        if (nameoff < 0) return nameoff;
        int abs = StructAbs(fdt, next);
        int err = SpliceStruct(fdt, abs, 0, FdtConst.PropHeaderSize + FdtConst.TagAlign(len));
        if (err != 0)
        {
            if (allocated) Fdt.SetSizeDtStrings(fdt, (uint)(Fdt.SizeDtStrings(fdt) - (name.Length + 1)));
            return err;
        }
        BinaryPrimitives.WriteUInt32BigEndian(fdt[abs..], FdtConst.Prop);
        BinaryPrimitives.WriteInt32BigEndian(fdt[(abs + 8)..], nameoff);
        BinaryPrimitives.WriteInt32BigEndian(fdt[(abs + 4)..], len);
        valueOffset = abs + FdtConst.PropHeaderSize;
        return 0;
    }

    /// <summary>fdt_setprop(): set (create or replace) a property's value.</summary>
    public static int SetProp(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        int err = SetPropPlaceholder(fdt, nodeOffset, name, value.Length, out int at);
        if (err != 0) return err;
        value.CopyTo(fdt[at..]);
        return 0;
    }

    /// <summary>fdt_setprop() with string name.</summary>
    public static int SetProp(Span<byte> fdt, int nodeOffset, string name, ReadOnlySpan<byte> value) =>
        SetProp(fdt, nodeOffset, Encoding.UTF8.GetBytes(name), value);

    /// <summary>fdt_setprop(fdt, node, name, &amp;u64, 8) with the CPU's little-endian image (KHO/LUO convention).</summary>
    public static int SetPropU64Le(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(v, value);
        return SetProp(fdt, nodeOffset, name, v);
    }

    /// <summary>fdt_setprop_u32(): big-endian.</summary>
    public static int SetPropU32(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, value);
        return SetProp(fdt, nodeOffset, name, v);
    }

    /// <summary>fdt_setprop_u64(): big-endian.</summary>
    public static int SetPropU64(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(v, value);
        return SetProp(fdt, nodeOffset, name, v);
    }

    /// <summary>fdt_setprop_string(): the string and its NUL.</summary>
    public static int SetPropString(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        value = CString(value);
        int err = SetPropPlaceholder(fdt, nodeOffset, name, value.Length + 1, out int at);
        if (err != 0) return err;
        value.CopyTo(fdt[at..]);
        fdt[at + value.Length] = 0;
        return 0;
    }

    /// <summary>fdt_appendprop(): append bytes to a property's value (creating it if absent).</summary>
    public static int AppendProp(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        int err = RwProbe(fdt);
        if (err != 0) return err;
        name = CString(name);
        int prop = Fdt.GetPropertyOffset(fdt, nodeOffset, name, out int oldlen);
        if (prop >= 0)
        {
            int abs = StructAbs(fdt, prop);
            int newlen = oldlen + value.Length;
            err = SpliceStruct(fdt, abs + FdtConst.PropHeaderSize, FdtConst.TagAlign(oldlen), FdtConst.TagAlign(newlen));
            if (err != 0) return err;
            BinaryPrimitives.WriteInt32BigEndian(fdt[(abs + 4)..], newlen);
            value.CopyTo(fdt[(abs + FdtConst.PropHeaderSize + oldlen)..]);
            return 0;
        }
        if (prop != FdtError.NotFound.Neg()) return prop;
        err = AddProperty(fdt, nodeOffset, name, value.Length, out int at);
        if (err != 0) return err;
        value.CopyTo(fdt[at..]);
        return 0;
    }

    /// <summary>fdt_delprop(): remove a property's bytes (its name stays in the strings block).</summary>
    public static int DelProp(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name)
    {
        int err = RwProbe(fdt);
        if (err != 0) return err;
        int prop = Fdt.GetPropertyOffset(fdt, nodeOffset, CString(name), out int len);
        if (prop < 0) return prop;
        return SpliceStruct(fdt, StructAbs(fdt, prop), FdtConst.PropHeaderSize + FdtConst.TagAlign(len), 0);
    }

    /// <summary>
    /// fdt_add_subnode(): insert an empty node after the parent's properties (before its children), so children
    /// added one by one end up in reverse order. EXISTS when a child matches by the unit-address rule.
    /// </summary>
    public static int AddSubnode(Span<byte> fdt, int parentOffset, ReadOnlySpan<byte> name)
    {
        int err = RwProbe(fdt);
        if (err != 0) return err;
        name = CString(name);
        int offset = Fdt.SubnodeOffset(fdt, parentOffset, name);
        if (offset >= 0) return FdtError.Exists.Neg();
        if (offset != FdtError.NotFound.Neg()) return offset;

        uint tag = Fdt.NextTag(fdt, parentOffset, out int next);
        if (tag != FdtConst.BeginNode) return FdtError.Internal.Neg();
        do
        {
            offset = next;
            tag = Fdt.NextTag(fdt, offset, out next);
        }
        while (tag == FdtConst.Prop || tag == FdtConst.Nop);

        int abs = StructAbs(fdt, offset);
        int nameRoom = FdtConst.TagAlign(name.Length + 1);
        int nodelen = FdtConst.TagSize + nameRoom + FdtConst.TagSize;
        err = SpliceStruct(fdt, abs, 0, nodelen);
        if (err != 0) return err;
        BinaryPrimitives.WriteUInt32BigEndian(fdt[abs..], FdtConst.BeginNode);
        fdt.Slice(abs + FdtConst.TagSize, nameRoom).Clear();
        name.CopyTo(fdt[(abs + FdtConst.TagSize)..]);
        BinaryPrimitives.WriteUInt32BigEndian(fdt[(abs + nodelen - FdtConst.TagSize)..], FdtConst.EndNode);
        return offset;
    }

    /// <summary>fdt_add_subnode() with a string name.</summary>
    public static int AddSubnode(Span<byte> fdt, int parentOffset, string name) =>
        AddSubnode(fdt, parentOffset, Encoding.UTF8.GetBytes(name));

    /// <summary>fdt_node_end_offset_(): offset just after the node's END_NODE.</summary>
    internal static int NodeEndOffset(ReadOnlySpan<byte> fdt, int offset)
    {
        int depth = 0;
        while (offset >= 0 && depth >= 0) offset = Fdt.NextNode(fdt, offset, ref depth);
        return offset;
    }

    /// <summary>fdt_del_node(): remove a node and its subtree.</summary>
    public static int DelNode(Span<byte> fdt, int nodeOffset)
    {
        int err = RwProbe(fdt);
        if (err != 0) return err;
        int end = NodeEndOffset(fdt, nodeOffset);
        if (end < 0) return end;
        return SpliceStruct(fdt, StructAbs(fdt, nodeOffset), end - nodeOffset, 0);
    }

    private static void NopRegion(Span<byte> region)
    {
        for (int i = 0; i + 4 <= region.Length; i += 4) BinaryPrimitives.WriteUInt32BigEndian(region[i..], FdtConst.Nop);
    }

    /// <summary>fdt_nop_property(): overwrite a property with FDT_NOP tokens in place.</summary>
    public static int NopProperty(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name)
    {
        if (Fdt.Version(fdt) < 0x10) return FdtError.BadVersion.Neg();
        int prop = Fdt.GetPropertyOffset(fdt, nodeOffset, CString(name), out int len);
        if (prop < 0) return prop;
        NopRegion(fdt.Slice(StructAbs(fdt, prop), FdtConst.TagAlign(len + FdtConst.PropHeaderSize)));
        return 0;
    }

    /// <summary>fdt_nop_node(): overwrite a node and its subtree with FDT_NOP tokens in place.</summary>
    public static int NopNode(Span<byte> fdt, int nodeOffset)
    {
        int end = NodeEndOffset(fdt, nodeOffset);
        if (end < 0) return end;
        NopRegion(fdt.Slice(StructAbs(fdt, nodeOffset), end - nodeOffset));
        return 0;
    }

    /// <summary>fdt_setprop_inplace(): overwrite a property's value without changing its length.</summary>
    public static int SetPropInplace(Span<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        int at = Fdt.GetProp(fdt, nodeOffset, CString(name), out int len);
        if (at < 0) return at;
        if (len != value.Length) return FdtError.NoSpace.Neg();
        value.CopyTo(fdt[at..]);
        return 0;
    }
}
