using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Kho;

internal static partial class KhoFdt
{
    private static int DataSize(ReadOnlySpan<byte> f) => (int)(Get(f, H.OffStrings) + Get(f, H.SizeStrings));

    /// <summary>fdt_rw_probe_(): header valid, version 17, blocks in order.</summary>
    private static int RwProbe(ReadOnlySpan<byte> f)
    {
        int rc = CheckHeader(f);
        if (rc != 0) return rc;
        if (Get(f, H.Version) < 17) return -ErrBadVersion;
        if (Misordered(f, (int)Get(f, H.SizeStruct))) return -ErrBadLayout;
        if (Get(f, H.TotalSize) > f.Length) return -ErrTruncated;
        return 0;
    }

    private static int MemRsvSize(ReadOnlySpan<byte> f)
    {
        int off = (int)Get(f, H.OffRsv), n = 0;
        while (off + (n + 1) * RsvEntrySize <= f.Length)
        {
            if (BinaryPrimitives.ReadUInt64BigEndian(f[(off + n * RsvEntrySize)..]) == 0
                && BinaryPrimitives.ReadUInt64BigEndian(f[(off + n * RsvEntrySize + 8)..]) == 0) return (n + 1) * RsvEntrySize;
            n++;
        }
        return -ErrTruncated;
    }

    private static bool Misordered(ReadOnlySpan<byte> f, int structSize)
    {
        int rsv = MemRsvSize(f);
        if (rsv < 0) return true;
        long offRsv = Get(f, H.OffRsv), offStruct = Get(f, H.OffStruct), offStr = Get(f, H.OffStrings);
        return offRsv < ((HeaderSize + 7) & ~7) || offStruct < offRsv + rsv || offStr < offStruct + structSize
            || Get(f, H.TotalSize) < offStr + Get(f, H.SizeStrings);
    }

    /// <summary>fdt_open_into(fdt, fdt, size) for a blob whose blocks are already in order (always the case
    /// for KHO, kho.md §4.3): version 17, size_dt_struct kept, totalsize = buffer size.</summary>
    public static int OpenInto(Span<byte> f)
    {
        int rc = CheckHeader(f);
        if (rc != 0) return rc;
        if (Get(f, H.Version) < 17 || Misordered(f, (int)Get(f, H.SizeStruct))) return -ErrBadLayout; // relayout not modelled
        if (DataSize(f) > f.Length) return -ErrNoSpace;
        Set(f, H.Version, 17);
        Set(f, H.TotalSize, (uint)f.Length);
        return 0;
    }

    /// <summary>fdt_splice_(): opens or closes a gap at absolute offset <paramref name="p"/> by memmove.</summary>
    private static int Splice(Span<byte> f, int p, int oldLen, int newLen)
    {
        int end = DataSize(f);
        if (p + oldLen > end || end - oldLen + newLen > (int)Get(f, H.TotalSize)) return -ErrNoSpace;
        f[(p + oldLen)..end].CopyTo(f[(p + newLen)..]);
        return 0;
    }

    private static int SpliceStruct(Span<byte> f, int p, int oldLen, int newLen)
    {
        int rc = Splice(f, p, oldLen, newLen);
        if (rc != 0) return rc;
        int delta = newLen - oldLen;
        Set(f, H.SizeStruct, (uint)((int)Get(f, H.SizeStruct) + delta));
        Set(f, H.OffStrings, (uint)((int)Get(f, H.OffStrings) + delta));
        return 0;
    }

    /// <summary>fdt_find_add_string_(): existing string (suffix matches count) or appended; allocated says which.</summary>
    private static int FindAddString(Span<byte> f, ReadOnlySpan<byte> nameZ, out bool allocated)
    {
        allocated = false;
        int sto = (int)Get(f, H.OffStrings), sts = (int)Get(f, H.SizeStrings);
        ReadOnlySpan<byte> tab = f.Slice(sto, sts);
        for (int i = 0; i + nameZ.Length <= tab.Length; i++)
            if (tab.Slice(i, nameZ.Length).SequenceEqual(nameZ)) return i;
        int rc = Splice(f, sto + sts, 0, nameZ.Length);
        if (rc != 0) return rc;
        Set(f, H.SizeStrings, (uint)(sts + nameZ.Length));
        nameZ.CopyTo(f[(sto + sts)..]);
        allocated = true;
        return sts;
    }

    /// <summary>fdt_add_subnode(fdt, 0, name): -FDT_ERR_EXISTS on a name match (§2.11), else inserts the node
    /// right after the root's properties and returns its struct offset.</summary>
    public static int AddRootSubnode(Span<byte> f, string name)
    {
        int rc = RwProbe(f);
        if (rc != 0) return rc;
        byte[] nm = Encoding.ASCII.GetBytes(name);
        int found = FindRootChild(f, nm);
        if (found >= 0) return -ErrExists;
        if (found != -ErrNotFound) return found;
        NextTag(f, 0, out int next);
        int offset;
        uint tag;
        do
        {
            offset = next;
            tag = NextTag(f, offset, out next);
        } while (tag is TokProp or TokNop);
        if (tag == uint.MaxValue) return -ErrBadStructure;
        int so = (int)Get(f, H.OffStruct);
        int nodeLen = 4 + Align4(nm.Length + 1) + 4;
        rc = SpliceStruct(f, so + offset, 0, nodeLen);
        if (rc != 0) return rc;
        int p = so + offset;
        Set(f, p, TokBeginNode);
        f.Slice(p + 4, Align4(nm.Length + 1)).Clear();
        nm.CopyTo(f[(p + 4)..]);
        Set(f, p + 4 + Align4(nm.Length + 1), TokEndNode);
        return offset;
    }

    /// <summary>fdt_setprop() for a property the node does not have yet (inserted right after the node name,
    /// kho.md §4.3); an existing property of the same length is overwritten in place. A failed insert removes
    /// a freshly appended name again (libfdt ≥ 1.6 rollback).</summary>
    public static int SetProp(Span<byte> f, int node, string name, ReadOnlySpan<byte> value)
    {
        int rc = RwProbe(f);
        if (rc != 0) return rc;
        byte[] nameZ = Encoding.ASCII.GetBytes(name + "\0");
        int existing = GetProp(f, node, nameZ.AsSpan(0, nameZ.Length - 1), out int oldLen);
        if (existing >= 0)
        {
            if (oldLen != value.Length)
            {
                rc = SpliceStruct(f, existing, Align4(oldLen), Align4(value.Length));
                if (rc != 0) return rc;
                Set(f, existing - 8, (uint)value.Length);
            }
            value.CopyTo(f[existing..]);
            return 0;
        }
        if (NextTag(f, node, out int after) != TokBeginNode) return -ErrBadOffset;
        int nameoff = FindAddString(f, nameZ, out bool allocated);
        if (nameoff < 0) return nameoff;
        int so = (int)Get(f, H.OffStruct);
        rc = SpliceStruct(f, so + after, 0, 12 + Align4(value.Length));
        if (rc != 0)
        {
            if (allocated) Set(f, H.SizeStrings, Get(f, H.SizeStrings) - (uint)nameZ.Length);
            return rc;
        }
        int p = so + after;
        Set(f, p, TokProp);
        Set(f, p + 4, (uint)value.Length);
        Set(f, p + 8, (uint)nameoff);
        value.CopyTo(f[(p + 12)..]);
        return 0;
    }

    /// <summary>fdt_del_node(): removes the node's bytes from the struct block (strings stay).</summary>
    public static int DelNode(Span<byte> f, int node)
    {
        int rc = RwProbe(f);
        if (rc != 0) return rc;
        int depth = 0, off = node;
        while (true)
        {
            uint tag = NextTag(f, off, out int next);
            if (tag == uint.MaxValue || tag == TokEnd) return -ErrBadStructure;
            if (tag == TokBeginNode) depth++;
            else if (tag == TokEndNode && --depth == 0) { off = next; break; }
            off = next;
        }
        int so = (int)Get(f, H.OffStruct);
        return SpliceStruct(f, so + node, off - node, 0);
    }

    /// <summary>fdt_pack(): rsvmap to 40, struct and strings right behind, totalsize = data end; bytes past
    /// the new end keep what the memmoves left there.</summary>
    public static int Pack(Span<byte> f)
    {
        int rc = RwProbe(f);
        if (rc != 0) return rc;
        int rsvSize = MemRsvSize(f);
        int structSize = (int)Get(f, H.SizeStruct), strSize = (int)Get(f, H.SizeStrings);
        int rsvOff = (HeaderSize + 7) & ~7, structOff = rsvOff + rsvSize, strOff = structOff + structSize;
        f.Slice((int)Get(f, H.OffRsv), rsvSize).CopyTo(f[rsvOff..]);
        Set(f, H.OffRsv, (uint)rsvOff);
        f.Slice((int)Get(f, H.OffStruct), structSize).CopyTo(f[structOff..]);
        Set(f, H.OffStruct, (uint)structOff);
        f.Slice((int)Get(f, H.OffStrings), strSize).CopyTo(f[strOff..]);
        Set(f, H.OffStrings, (uint)strOff);
        Set(f, H.TotalSize, (uint)(strOff + strSize));
        return 0;
    }
}
