using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Fdt;

public static partial class Fdt
{
    /// <summary>fdt_next_node(): next BEGIN_NODE in document order (pass -1 for the root); see fdt.md §9 for the depth rule.</summary>
    public static int NextNode(ReadOnlySpan<byte> fdt, int offset, ref int depth) => NextNode(fdt, offset, ref depth, trackDepth: true);

    /// <summary>fdt_next_node() with a NULL depth pointer: visits every node to the end.</summary>
    public static int NextNode(ReadOnlySpan<byte> fdt, int offset)
    {
        int unused = 0;
        return NextNode(fdt, offset, ref unused, trackDepth: false);
    }

    private static int NextNode(ReadOnlySpan<byte> fdt, int offset, ref int depth, bool trackDepth)
    {
        var v = new FdtView(fdt);
        int nextOffset = 0;
        if (offset >= 0)
        {
            nextOffset = CheckNodeOffset(fdt, in v, offset);
            if (nextOffset < 0) return nextOffset;
        }
        uint tag;
        do
        {
            offset = nextOffset;
            tag = NextTag(fdt, in v, offset, out nextOffset);
            switch (tag)
            {
                case FdtConst.BeginNode:
                    if (trackDepth) depth++;
                    break;
                case FdtConst.EndNode:
                    if (trackDepth && --depth < 0) return nextOffset;
                    break;
                case FdtConst.End:
                    if (nextOffset >= 0 || (nextOffset == FdtError.Truncated.Neg() && !trackDepth))
                        return FdtError.NotFound.Neg();
                    return nextOffset;
            }
        }
        while (tag != FdtConst.BeginNode);
        return offset;
    }

    /// <summary>fdt_first_subnode().</summary>
    public static int FirstSubnode(ReadOnlySpan<byte> fdt, int offset)
    {
        int depth = 0;
        offset = NextNode(fdt, offset, ref depth);
        if (offset < 0 || depth != 1) return FdtError.NotFound.Neg();
        return offset;
    }

    /// <summary>fdt_next_subnode().</summary>
    public static int NextSubnode(ReadOnlySpan<byte> fdt, int offset)
    {
        int depth = 1;
        do
        {
            offset = NextNode(fdt, offset, ref depth);
            if (offset < 0 || depth < 1) return FdtError.NotFound.Neg();
        }
        while (depth > 1);
        return offset;
    }

    private static int NextProp(ReadOnlySpan<byte> fdt, in FdtView v, int offset)
    {
        uint tag;
        do
        {
            tag = NextTag(fdt, in v, offset, out int nextOffset);
            switch (tag)
            {
                case FdtConst.End:
                    return nextOffset >= 0 ? FdtError.BadStructure.Neg() : nextOffset;
                case FdtConst.Prop:
                    return offset;
            }
            offset = nextOffset;
        }
        while (tag == FdtConst.Nop);
        return FdtError.NotFound.Neg();
    }

    /// <summary>fdt_first_property_offset().</summary>
    public static int FirstPropertyOffset(ReadOnlySpan<byte> fdt, int nodeOffset)
    {
        var v = new FdtView(fdt);
        return FirstPropertyOffset(fdt, in v, nodeOffset);
    }

    private static int FirstPropertyOffset(ReadOnlySpan<byte> fdt, in FdtView v, int nodeOffset)
    {
        int offset = CheckNodeOffset(fdt, in v, nodeOffset);
        return offset < 0 ? offset : NextProp(fdt, in v, offset);
    }

    /// <summary>fdt_next_property_offset().</summary>
    public static int NextPropertyOffset(ReadOnlySpan<byte> fdt, int offset)
    {
        var v = new FdtView(fdt);
        return NextPropertyOffset(fdt, in v, offset);
    }

    private static int NextPropertyOffset(ReadOnlySpan<byte> fdt, in FdtView v, int offset)
    {
        offset = CheckPropOffset(fdt, in v, offset);
        return offset < 0 ? offset : NextProp(fdt, in v, offset);
    }

    /// <summary>
    /// fdt_get_string(): the absolute span offset of the string at <paramref name="stroffset"/> in the strings
    /// block, with its length (without NUL) in <paramref name="len"/>; or a negated code (BADOFFSET outside the
    /// block, TRUNCATED without a NUL inside it).
    /// </summary>
    public static int GetString(ReadOnlySpan<byte> fdt, int stroffset, out int len)
    {
        var v = new FdtView(fdt);
        return GetString(fdt, in v, stroffset, out len);
    }

    internal static int GetString(ReadOnlySpan<byte> fdt, in FdtView v, int stroffset, out int len)
    {
        int total = v.Probe;
        len = total;
        if (total < 0) return total;
        long bound = Math.Min(total, fdt.Length);
        len = FdtError.BadOffset.Neg();
        long abs = (uint)(stroffset + v.OffStrings);          // 32-bit wrap as in libfdt
        if (abs >= (uint)total) return len;
        long avail = total - abs;
        if (v.Magic == FdtConst.Magic)
        {
            if (stroffset < 0) return len;
            if (v.Version >= 17)
            {
                uint size = v.SizeStrings;
                if ((uint)stroffset >= size) return len;
                if (size - (uint)stroffset < avail) avail = size - (uint)stroffset;
            }
        }
        else
        {
            // Unfinished sequential-write blob: offsets are negative, relative to the end of the buffer.
            uint sw = unchecked((uint)-stroffset);
            if (stroffset >= 0 || sw > v.SizeStrings) return len;
            if (sw < avail) avail = sw;
        }
        avail = Math.Min(avail, bound - abs);
        if (avail <= 0) { len = FdtError.Truncated.Neg(); return len; }
        int nul = fdt.Slice((int)abs, (int)avail).IndexOf((byte)0);
        if (nul < 0) { len = FdtError.Truncated.Neg(); return len; }
        len = nul;
        return (int)abs;
    }

    /// <summary>
    /// fdt_getprop_by_offset(): the value of the property at <paramref name="offset"/> as an absolute span
    /// offset (or a negated code), its length, and its name's absolute offset and length.
    /// </summary>
    public static int GetPropByOffset(ReadOnlySpan<byte> fdt, int offset, out int nameOffset, out int nameLen, out int len)
    {
        var v = new FdtView(fdt);
        return GetPropByOffset(fdt, in v, offset, out nameOffset, out nameLen, out len);
    }

    internal static int GetPropByOffset(ReadOnlySpan<byte> fdt, in FdtView v, int offset, out int nameOffset, out int nameLen, out int len)
    {
        nameOffset = -1; nameLen = 0;
        int err = CheckPropOffset(fdt, in v, offset);
        if (err < 0) { len = err; return err; }
        int abs = (int)(offset + v.OffStruct);
        // A wrapping property length can pass the tag check while the 12-byte header itself lies past the end
        // of a buffer shorter than totalsize (libfdt would read beyond it): report the blob as truncated.
        if ((long)abs + FdtConst.PropHeaderSize > fdt.Length) { len = FdtError.Truncated.Neg(); return len; }
        ReadOnlySpan<byte> hdr = fdt.Slice(abs + 4, 8);
        len = BinaryPrimitives.ReadInt32BigEndian(hdr);
        int nameoff = BinaryPrimitives.ReadInt32BigEndian(hdr[4..]);
        int name = GetString(fdt, in v, nameoff, out int nlen);
        if (name < 0) { len = nlen; return nlen; }
        nameOffset = name; nameLen = nlen;
        int value = abs + FdtConst.PropHeaderSize;
        if (v.Version < 0x10 && ((offset + FdtConst.PropHeaderSize) % 8) != 0 && len >= 8) value += 4;
        return value;
    }

    /// <summary>The value of the property at <paramref name="offset"/> as a span, or an error (convenience over fdt_getprop_by_offset()).</summary>
    public static int GetPropByOffset(ReadOnlySpan<byte> fdt, int offset, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        int v = GetPropByOffset(fdt, offset, out int nOff, out int nLen, out int len);
        name = default; value = default;
        if (v < 0) return v;
        name = fdt.Slice(nOff, nLen);
        value = SafeSlice(fdt, v, len);
        return len;
    }

    /// <summary>A value span; a length that libfdt would hand out past the buffer is cut at the span's end.</summary>
    private static ReadOnlySpan<byte> SafeSlice(ReadOnlySpan<byte> fdt, int start, int len)
    {
        if (len <= 0 || start >= fdt.Length) return fdt.Slice(Math.Min(start, fdt.Length), 0);
        return fdt.Slice(start, Math.Min(len, fdt.Length - start));
    }

    private static bool StringEq(ReadOnlySpan<byte> fdt, in FdtView v, int stroffset, ReadOnlySpan<byte> s)
    {
        int p = GetString(fdt, in v, stroffset, out int slen);
        return p >= 0 && slen == s.Length && fdt.Slice(p, slen).SequenceEqual(s);
    }

    /// <summary>
    /// fdt_get_property_namelen_(): structure offset of the named property of a node (scan stops at the first
    /// child), or a negated code.
    /// </summary>
    public static int GetPropertyOffset(ReadOnlySpan<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, out int len)
    {
        var v = new FdtView(fdt);
        int offset;
        for (offset = FirstPropertyOffset(fdt, in v, nodeOffset); offset >= 0; offset = NextPropertyOffset(fdt, in v, offset))
        {
            int abs = (int)(offset + v.OffStruct);
            // same wrapping-length case as GetPropByOffset: the header is past the end of the buffer
            if ((long)abs + FdtConst.PropHeaderSize > fdt.Length) { len = FdtError.Truncated.Neg(); return len; }
            int nameoff = BinaryPrimitives.ReadInt32BigEndian(fdt.Slice(abs + 8, 4));
            if (StringEq(fdt, in v, nameoff, name))
            {
                len = BinaryPrimitives.ReadInt32BigEndian(fdt.Slice(abs + 4, 4));
                return offset;
            }
        }
        len = offset;
        return offset;
    }

    /// <summary>
    /// fdt_getprop(): absolute span offset of the named property's value (or a negated code; then
    /// <paramref name="len"/> holds the same code, as libfdt's *lenp).
    /// </summary>
    public static int GetProp(ReadOnlySpan<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, out int len)
    {
        int offset = GetPropertyOffset(fdt, nodeOffset, name, out len);
        if (offset < 0) return offset;
        int value = (int)(offset + OffDtStruct(fdt)) + FdtConst.PropHeaderSize;
        if (Version(fdt) < 0x10 && ((offset + FdtConst.PropHeaderSize) % 8) != 0 && len >= 8) value += 4;
        return value;
    }

    /// <summary>fdt_getprop() returning the value as a span; the result is the length or a negated code.</summary>
    public static int GetProp(ReadOnlySpan<byte> fdt, int nodeOffset, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        int v = GetProp(fdt, nodeOffset, name, out int len);
        value = v < 0 ? default : SafeSlice(fdt, v, len);
        return v < 0 ? v : len;
    }

    /// <summary>fdt_getprop() with a string name.</summary>
    public static int GetProp(ReadOnlySpan<byte> fdt, int nodeOffset, string name, out ReadOnlySpan<byte> value) =>
        GetProp(fdt, nodeOffset, Encoding.UTF8.GetBytes(name), out value);

    /// <summary>
    /// fdt_get_name(): absolute span offset of the node's name and its length (without NUL), or a negated code
    /// (also stored in <paramref name="len"/>).
    /// </summary>
    public static int GetName(ReadOnlySpan<byte> fdt, int nodeOffset, out int len)
    {
        var v = new FdtView(fdt);
        return GetName(fdt, in v, nodeOffset, out len);
    }

    internal static int GetName(ReadOnlySpan<byte> fdt, in FdtView v, int nodeOffset, out int len)
    {
        int err = v.Probe;
        if (err >= 0) err = CheckNodeOffset(fdt, in v, nodeOffset);
        if (err < 0) { len = err; return err; }
        int abs = (int)(nodeOffset + v.OffStruct) + FdtConst.TagSize;
        // CheckNodeOffset proved a NUL inside the block.
        len = fdt[abs..].IndexOf((byte)0);
        if (v.Version < 0x10)
        {
            int slash = fdt.Slice(abs, len).LastIndexOf((byte)'/');
            if (slash < 0) { len = FdtError.BadStructure.Neg(); return len; }
            abs += slash + 1; len -= slash + 1;
        }
        return abs;
    }

    /// <summary>fdt_get_name() as a span (empty on error).</summary>
    public static ReadOnlySpan<byte> GetNameSpan(ReadOnlySpan<byte> fdt, int nodeOffset)
    {
        int p = GetName(fdt, nodeOffset, out int len);
        return p < 0 ? default : fdt.Slice(p, len);
    }

    private static bool NodeNameEq(ReadOnlySpan<byte> fdt, int offset, ReadOnlySpan<byte> s)
    {
        int p = GetName(fdt, offset, out int olen);
        if (p < 0 || olen < s.Length) return false;
        if (!fdt.Slice(p, s.Length).SequenceEqual(s)) return false;
        if (olen == s.Length) return true;             // p[len] == '\0'
        return s.IndexOf((byte)'@') < 0 && fdt[p + s.Length] == (byte)'@';
    }

    /// <summary>fdt_subnode_offset_namelen(): direct child by name with the unit-address rule of fdt.md §6.</summary>
    public static int SubnodeOffset(ReadOnlySpan<byte> fdt, int parentOffset, ReadOnlySpan<byte> name)
    {
        int err = RoProbe(fdt);
        if (err < 0) return err;
        int depth = 0, offset = parentOffset;
        for (; offset >= 0 && depth >= 0; offset = NextNode(fdt, offset, ref depth))
        {
            if (depth == 1 && NodeNameEq(fdt, offset, name)) return offset;
        }
        if (depth < 0) return FdtError.NotFound.Neg();
        return offset;
    }

    /// <summary>fdt_subnode_offset() with a string name.</summary>
    public static int SubnodeOffset(ReadOnlySpan<byte> fdt, int parentOffset, string name) =>
        SubnodeOffset(fdt, parentOffset, Encoding.UTF8.GetBytes(name));

    /// <summary>fdt_get_alias_namelen(): the value of a property of /aliases, or false.</summary>
    private static bool GetAlias(ReadOnlySpan<byte> fdt, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        value = default;
        int aliases = PathOffset(fdt, "/aliases"u8);
        if (aliases < 0) return false;
        return GetProp(fdt, aliases, name, out value) >= 0;
    }

    /// <summary>
    /// fdt_path_offset(): absolute path (one or more '/' between components), or an alias as the first
    /// component (fdt.md §9). "/" gives 0 without looking at the first token.
    /// </summary>
    public static int PathOffset(ReadOnlySpan<byte> fdt, ReadOnlySpan<byte> path) => PathOffset(fdt, path, aliasDepth: 0);

    /// <summary>fdt_path_offset() with a string path.</summary>
    public static int PathOffset(ReadOnlySpan<byte> fdt, string path) => PathOffset(fdt, Encoding.UTF8.GetBytes(path));

    private static int PathOffset(ReadOnlySpan<byte> fdt, ReadOnlySpan<byte> path, int aliasDepth)
    {
        int err = RoProbe(fdt);
        if (err < 0) return err;
        int nul = path.IndexOf((byte)0);           // a C string ends at its NUL
        if (nul >= 0) path = path[..nul];
        int p = 0, end = path.Length, offset = 0;
        if (end == 0 || path[0] != (byte)'/')
        {
            int q = path.IndexOf((byte)'/');
            if (q < 0) q = end;
            // An alias that points at itself would recurse forever in C; stop at a fixed depth instead.
            if (aliasDepth > 16 || !GetAlias(fdt, path[..q], out ReadOnlySpan<byte> alias)) return FdtError.BadPath.Neg();
            offset = PathOffset(fdt, alias, aliasDepth + 1);
            p = q;
        }
        while (p < end)
        {
            while (path[p] == (byte)'/')
            {
                p++;
                if (p == end) return offset;
            }
            int q = path[p..].IndexOf((byte)'/');
            q = q < 0 ? end : p + q;
            offset = SubnodeOffset(fdt, offset, path[p..q]);
            if (offset < 0) return offset;
            p = q;
        }
        return offset;
    }

    /// <summary>fdt_get_path(): writes the node's full path into <paramref name="buf"/> (NUL-terminated); 0 or a negated code.</summary>
    public static int GetPath(ReadOnlySpan<byte> fdt, int nodeOffset, Span<byte> buf)
    {
        int err = RoProbe(fdt);
        if (err < 0) return err;
        int buflen = buf.Length;
        if (buflen < 2) return FdtError.NoSpace.Neg();
        int pdepth = 0, p = 0, depth = 0, offset;
        for (offset = 0; offset >= 0 && offset <= nodeOffset; offset = NextNode(fdt, offset, ref depth))
        {
            while (pdepth > depth)
            {
                // libfdt scans back for the previous '/' and, when the walk climbs above the first node (a second
                // top-level node), reads before the buffer; here that unbalanced structure is BADSTRUCTURE.
                do { p--; } while (p > 0 && buf[p - 1] != (byte)'/');
                if (p == 0) return FdtError.BadStructure.Neg();
                pdepth--;
            }
            if (pdepth >= depth)
            {
                int name = GetName(fdt, offset, out int namelen);
                if (name < 0) return namelen;
                if (p + namelen + 1 <= buflen)
                {
                    fdt.Slice(name, namelen).CopyTo(buf[p..]);
                    p += namelen;
                    buf[p++] = (byte)'/';
                    pdepth++;
                }
            }
            if (offset == nodeOffset)
            {
                if (pdepth < depth + 1) return FdtError.NoSpace.Neg();
                if (p > 1) p--;
                buf[p] = 0;
                return 0;
            }
        }
        if (offset == FdtError.NotFound.Neg() || offset >= 0) return FdtError.BadOffset.Neg();
        if (offset == FdtError.BadOffset.Neg()) return FdtError.BadStructure.Neg();
        return offset;
    }

    /// <summary>fdt_get_path() returning a string, or null with the code in <paramref name="err"/>.</summary>
    public static string? GetPathString(ReadOnlySpan<byte> fdt, int nodeOffset, out int err)
    {
        Span<byte> buf = stackalloc byte[4096];
        err = GetPath(fdt, nodeOffset, buf);
        if (err < 0) return null;
        return Encoding.UTF8.GetString(buf[..buf.IndexOf((byte)0)]);
    }

    /// <summary>fdt_supernode_atdepth_offset(): ancestor at a depth, with the node's own depth.</summary>
    public static int SupernodeAtDepthOffset(ReadOnlySpan<byte> fdt, int nodeOffset, int supernodeDepth, out int nodeDepth)
    {
        nodeDepth = 0;
        int err = RoProbe(fdt);
        if (err < 0) return err;
        if (supernodeDepth < 0) return FdtError.NotFound.Neg();
        int supernodeOffset = FdtError.Internal.Neg(), depth = 0, offset;
        for (offset = 0; offset >= 0 && offset <= nodeOffset; offset = NextNode(fdt, offset, ref depth))
        {
            if (depth == supernodeDepth) supernodeOffset = offset;
            if (offset == nodeOffset)
            {
                nodeDepth = depth;
                return supernodeDepth > depth ? FdtError.NotFound.Neg() : supernodeOffset;
            }
        }
        if (offset == FdtError.NotFound.Neg() || offset >= 0) return FdtError.BadOffset.Neg();
        if (offset == FdtError.BadOffset.Neg()) return FdtError.BadStructure.Neg();
        return offset;
    }

    /// <summary>fdt_node_depth().</summary>
    public static int NodeDepth(ReadOnlySpan<byte> fdt, int nodeOffset)
    {
        int err = SupernodeAtDepthOffset(fdt, nodeOffset, 0, out int depth);
        return err < 0 ? err : depth;
    }

    /// <summary>fdt_parent_offset().</summary>
    public static int ParentOffset(ReadOnlySpan<byte> fdt, int nodeOffset)
    {
        int depth = NodeDepth(fdt, nodeOffset);
        if (depth < 0) return depth;
        return SupernodeAtDepthOffset(fdt, nodeOffset, depth - 1, out _);
    }

    /// <summary>fdt_num_mem_rsv(): entries before the first size-0 entry, or TRUNCATED if none starts before totalsize - 16.</summary>
    public static int NumMemRsv(ReadOnlySpan<byte> fdt)
    {
        uint offRsv = OffMemRsvmap(fdt);
        long total = Math.Min((long)TotalSize(fdt), fdt.Length);
        for (int i = 0; ; i++)
        {
            long abs = offRsv + (long)i * FdtConst.ReserveEntrySize;
            if (abs > total - FdtConst.ReserveEntrySize || abs > uint.MaxValue) return FdtError.Truncated.Neg();
            if (BinaryPrimitives.ReadUInt64BigEndian(fdt.Slice((int)abs + 8, 8)) == 0) return i;
        }
    }

    /// <summary>fdt_get_mem_rsv(): address and size of entry <paramref name="n"/>.</summary>
    public static int GetMemRsv(ReadOnlySpan<byte> fdt, int n, out ulong address, out ulong size)
    {
        address = size = 0;
        int err = RoProbe(fdt);
        if (err < 0) return err;
        if (n < 0) return FdtError.BadOffset.Neg();
        long abs = OffMemRsvmap(fdt) + (long)n * FdtConst.ReserveEntrySize;
        if (abs > Math.Min((long)TotalSize(fdt), fdt.Length) - FdtConst.ReserveEntrySize) return FdtError.BadOffset.Neg();
        address = BinaryPrimitives.ReadUInt64BigEndian(fdt.Slice((int)abs, 8));
        size = BinaryPrimitives.ReadUInt64BigEndian(fdt.Slice((int)abs + 8, 8));
        return 0;
    }
}
