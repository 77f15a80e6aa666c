using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Kho;

/// <summary>
/// The handful of libfdt calls KHO makes on its root FDT (kho.md §4.2–§4.3), reproduced byte for byte:
/// sequential-write creation, fdt_open_into without relayout, fdt_add_subnode, fdt_setprop of new
/// properties, fdt_del_node, fdt_pack, and the bounded read side used by the incoming kernel. Results are
/// libfdt-style ints (negative FDT_ERR_*). Stand-in until the fdt/ library is wired in; it touches only
/// the page it is given and never reads outside the span, whatever the bytes say.
/// </summary>
internal static partial class KhoFdt
{
    public const uint Magic = 0xD00DFEED, SwMagic = ~Magic;
    public const int ErrNotFound = 1, ErrExists = 2, ErrNoSpace = 3, ErrBadOffset = 4, ErrBadState = 7,
        ErrTruncated = 8, ErrBadMagic = 9, ErrBadVersion = 10, ErrBadStructure = 11, ErrBadLayout = 12;
    public const uint TokBeginNode = 1, TokEndNode = 2, TokProp = 3, TokNop = 4, TokEnd = 9;
    public const int HeaderSize = 40, RsvEntrySize = 16;

    private static class H
    {
        public const int Magic = 0, TotalSize = 4, OffStruct = 8, OffStrings = 12, OffRsv = 16, Version = 20,
            LastComp = 24, BootCpu = 28, SizeStrings = 32, SizeStruct = 36;
    }

    private static uint Get(ReadOnlySpan<byte> f, int off) => BinaryPrimitives.ReadUInt32BigEndian(f[off..]);
    private static void Set(Span<byte> f, int off, uint v) => BinaryPrimitives.WriteUInt32BigEndian(f[off..], v);
    private static int Align4(int x) => (x + 3) & ~3;

    // ---- sequential write (fdt_sw.c) ----

    /// <summary>fdt_create(buf, size) + fdt_finish_reservemap().</summary>
    public static void SwCreate(Span<byte> buf)
    {
        buf.Clear();
        int rsv = (HeaderSize + RsvEntrySize - 1) & ~(RsvEntrySize - 1); // 48
        Set(buf, H.Magic, SwMagic);
        Set(buf, H.Version, 17);
        Set(buf, H.LastComp, 16);
        Set(buf, H.TotalSize, (uint)buf.Length);
        Set(buf, H.OffRsv, (uint)rsv);
        Set(buf, H.OffStruct, (uint)rsv);
        Set(buf, H.OffStrings, (uint)buf.Length);
        // fdt_finish_reservemap: terminator entry (already zero), struct starts after it
        Set(buf, H.OffStruct, (uint)(rsv + RsvEntrySize));
    }

    private static int SwGrab(Span<byte> buf, int len)
    {
        int off = (int)Get(buf, H.OffStruct), sz = (int)Get(buf, H.SizeStruct);
        int spaceEnd = buf.Length - (int)Get(buf, H.SizeStrings);
        if (off + sz + len > spaceEnd) return -ErrNoSpace;
        Set(buf, H.SizeStruct, (uint)(sz + len));
        return off + sz;
    }

    /// <summary>fdt_begin_node().</summary>
    public static int SwBeginNode(Span<byte> buf, string name)
    {
        int n = Encoding.ASCII.GetByteCount(name);
        int p = SwGrab(buf, 4 + Align4(n + 1));
        if (p < 0) return p;
        Set(buf, p, TokBeginNode);
        Encoding.ASCII.GetBytes(name, buf[(p + 4)..]);
        return 0;
    }

    /// <summary>fdt_end_node().</summary>
    public static int SwEndNode(Span<byte> buf)
    {
        int p = SwGrab(buf, 4);
        if (p < 0) return p;
        Set(buf, p, TokEndNode);
        return 0;
    }

    /// <summary>fdt_property(): strings grow downward from the buffer end during creation (negative nameoff).</summary>
    public static int SwProperty(Span<byte> buf, string name, ReadOnlySpan<byte> value)
    {
        int strSize = (int)Get(buf, H.SizeStrings);
        int nlen = Encoding.ASCII.GetByteCount(name) + 1;
        Span<byte> nm = stackalloc byte[nlen];
        Encoding.ASCII.GetBytes(name, nm);
        nm[^1] = 0;
        int nameoff = 0;
        bool found = false;
        ReadOnlySpan<byte> tab = buf[(buf.Length - strSize)..];
        for (int i = 0; i + nlen <= tab.Length; i++)
            if (tab.Slice(i, nlen).SequenceEqual(nm)) { nameoff = i - strSize; found = true; break; }
        if (!found)
        {
            int structEnd = (int)Get(buf, H.OffStruct) + (int)Get(buf, H.SizeStruct);
            if (buf.Length - strSize - nlen < structEnd) return -ErrNoSpace;
            strSize += nlen;
            nm.CopyTo(buf[(buf.Length - strSize)..]);
            Set(buf, H.SizeStrings, (uint)strSize);
            nameoff = -strSize;
        }
        int p = SwGrab(buf, 12 + Align4(value.Length));
        if (p < 0) return p;
        Set(buf, p, TokProp);
        Set(buf, p + 4, (uint)value.Length);
        Set(buf, p + 8, unchecked((uint)nameoff));
        value.CopyTo(buf[(p + 12)..]);
        return 0;
    }

    /// <summary>fdt_finish(): END token, strings moved behind the struct block, nameoffs fixed up.</summary>
    public static int SwFinish(Span<byte> buf)
    {
        int p = SwGrab(buf, 4);
        if (p < 0) return p;
        Set(buf, p, TokEnd);
        int structOff = (int)Get(buf, H.OffStruct), structSize = (int)Get(buf, H.SizeStruct);
        int strSize = (int)Get(buf, H.SizeStrings);
        int newStr = structOff + structSize;
        buf.Slice(buf.Length - strSize, strSize).CopyTo(buf[newStr..]);
        Set(buf, H.OffStrings, (uint)newStr);
        for (int off = structOff; off < newStr;)
        {
            uint tag = Get(buf, off);
            if (tag == TokProp)
            {
                int nameoff = unchecked((int)Get(buf, off + 8));
                if (nameoff < 0) Set(buf, off + 8, (uint)(strSize + nameoff));
                off += 12 + Align4((int)Get(buf, off + 4));
            }
            else if (tag == TokBeginNode) off += 4 + Align4(buf[(off + 4)..].IndexOf((byte)0) + 1);
            else off += 4;
        }
        Set(buf, H.TotalSize, (uint)(newStr + strSize));
        Set(buf, H.Magic, Magic);
        return 0;
    }

    // ---- read side (fdt.c, fdt_ro.c), bounded ----

    /// <summary>fdt_check_header() (kho.md §1.7 step 1b).</summary>
    public static int CheckHeader(ReadOnlySpan<byte> f)
    {
        if (f.Length < HeaderSize) return -ErrTruncated;
        if (Get(f, H.Magic) != Magic) return -ErrBadMagic;
        uint ver = Get(f, H.Version), last = Get(f, H.LastComp);
        if (ver < 2 || last > 17 || ver < last) return -ErrBadVersion;
        uint hdr = ver >= 17 ? 40u : ver >= 16 ? 36u : ver >= 3 ? 32u : 28u;
        uint total = Get(f, H.TotalSize);
        if (total < hdr || total > int.MaxValue) return -ErrTruncated;
        uint rsv = Get(f, H.OffRsv);
        if (rsv < hdr || rsv > total) return -ErrTruncated;
        uint so = Get(f, H.OffStruct), ss = ver >= 17 ? Get(f, H.SizeStruct) : 0;
        if (so < hdr || so > total || (ver >= 17 && (ss > total - so))) return -ErrTruncated;
        uint sto = Get(f, H.OffStrings), sts = Get(f, H.SizeStrings);
        if (sto < hdr || sto > total || sts > total - sto) return -ErrTruncated;
        return 0;
    }

    public static uint TotalSize(ReadOnlySpan<byte> f) => Get(f, H.TotalSize);

    /// <summary>fdt_next_tag(): returns the tag at <paramref name="off"/> and the next offset, or -1 tag on
    /// a truncated/bad structure.</summary>
    private static uint NextTag(ReadOnlySpan<byte> f, int off, out int next)
    {
        next = -1;
        int so = (int)Get(f, H.OffStruct), ss = (int)Get(f, H.SizeStruct);
        int limit = Math.Min(f.Length, so + ss);
        int abs = so + off;
        if (off < 0 || abs + 4 > limit) return uint.MaxValue;
        uint tag = Get(f, abs);
        int n = abs + 4;
        switch (tag)
        {
            case TokBeginNode:
                int z = f[n..limit].IndexOf((byte)0);
                if (z < 0) return uint.MaxValue;
                n += z + 1;
                break;
            case TokProp:
                if (n + 8 > limit) return uint.MaxValue;
                uint len = Get(f, n);
                if (len > (uint)(limit - n - 8)) return uint.MaxValue;
                n += 8 + (int)len;
                break;
            case TokEndNode: case TokNop: case TokEnd: break;
            default: return uint.MaxValue;
        }
        next = Align4(n) - so;
        if (so + next > limit && tag != TokEnd) return uint.MaxValue;
        return tag;
    }

    /// <summary>Name of the node at struct offset <paramref name="node"/>.</summary>
    public static ReadOnlySpan<byte> NodeName(ReadOnlySpan<byte> f, int node)
    {
        int abs = (int)Get(f, H.OffStruct) + node + 4;
        int z = f[abs..].IndexOf((byte)0);
        return z < 0 ? default : f.Slice(abs, z);
    }

    /// <summary>fdt_getprop() on <paramref name="node"/>: value offset (absolute) and length, or -FDT_ERR.</summary>
    public static int GetProp(ReadOnlySpan<byte> f, int node, ReadOnlySpan<byte> name, out int len)
    {
        len = 0;
        if (NextTag(f, node, out int off) != TokBeginNode) return -ErrBadOffset;
        int so = (int)Get(f, H.OffStruct), sto = (int)Get(f, H.OffStrings), sts = (int)Get(f, H.SizeStrings);
        while (true)
        {
            int cur = off;
            uint tag = NextTag(f, cur, out off);
            if (tag == uint.MaxValue) return -ErrBadStructure;
            if (tag == TokNop) continue;
            if (tag != TokProp) return -ErrNotFound;
            int nameoff = (int)Get(f, so + cur + 8);
            if (nameoff < 0 || nameoff >= sts || sto + nameoff >= f.Length) return -ErrBadStructure;
            ReadOnlySpan<byte> s = f[(sto + nameoff)..Math.Min(f.Length, sto + sts)];
            int z = s.IndexOf((byte)0);
            if (z < 0) return -ErrBadStructure;
            if (s[..z].SequenceEqual(name))
            {
                len = (int)Get(f, so + cur + 4);
                return so + cur + 12;
            }
        }
    }

    /// <summary>fdt_first_subnode()/fdt_next_subnode() combined: the next child of the root after
    /// <paramref name="prev"/> (-1 = first), or -FDT_ERR_NOTFOUND.</summary>
    public static int NextRootChild(ReadOnlySpan<byte> f, int prev)
    {
        int off;
        int depth;
        if (prev < 0) { if (NextTag(f, 0, out off) != TokBeginNode) return -ErrBadOffset; depth = 1; }
        else { off = prev; depth = 1; }
        bool skipCurrent = prev >= 0;
        while (true)
        {
            int cur = off;
            uint tag = NextTag(f, cur, out off);
            switch (tag)
            {
                case TokBeginNode:
                    if (!skipCurrent && depth == 1) return cur;
                    depth++;
                    skipCurrent = false;
                    break;
                case TokEndNode:
                    depth--;
                    if (depth < 1) return -ErrNotFound;
                    break;
                case TokProp: case TokNop: break;
                default: return tag == TokEnd ? -ErrNotFound : -ErrBadStructure;
            }
        }
    }

    /// <summary>fdt_subnode_offset() under the root: exact name, or (when <paramref name="name"/> has no '@')
    /// a child named <c>name@unit</c>; first in struct order wins (kho.md §2.13).</summary>
    public static int FindRootChild(ReadOnlySpan<byte> f, ReadOnlySpan<byte> name)
    {
        for (int c = NextRootChild(f, -1); ; c = NextRootChild(f, c))
        {
            if (c < 0) return c;
            if (NameMatches(NodeName(f, c), name)) return c;
        }
    }

    private static bool NameMatches(ReadOnlySpan<byte> node, ReadOnlySpan<byte> name)
    {
        if (node.SequenceEqual(name)) return true;
        return name.IndexOf((byte)'@') < 0 && node.Length > name.Length && node[name.Length] == (byte)'@' && node.StartsWith(name);
    }

    /// <summary>fdt_stringlist_contains() on the root's compatible (fdt_node_check_compatible(fdt, 0, c) == 0).</summary>
    public static bool RootCompatible(ReadOnlySpan<byte> f, ReadOnlySpan<byte> compatible)
    {
        int v = GetProp(f, 0, "compatible"u8, out int len);
        if (v < 0 || v + len > f.Length) return false;
        ReadOnlySpan<byte> list = f.Slice(v, len);
        while (!list.IsEmpty)
        {
            int z = list.IndexOf((byte)0);
            if (z < 0) return false;
            if (list[..z].SequenceEqual(compatible)) return true;
            list = list[(z + 1)..];
        }
        return false;
    }
}
