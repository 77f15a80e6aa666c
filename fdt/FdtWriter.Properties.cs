using System.Buffers;
using System.Buffers.Binary;

namespace LuoModel.Fdt;

public sealed partial class FdtWriter
{
    /// <summary>
    /// fdt_add_string_(): copy <paramref name="name"/> and its NUL in front of the strings table. Returns the
    /// provisional (negative) offset, or 0 when there is no room.
    /// </summary>
    private int AddString(ReadOnlySpan<byte> name)
    {
        int len = name.Length + 1;
        long offset = (long)_sizeStrings + len;
        long structTop = (long)_offStruct + _sizeStruct;
        if (_total - offset < structTop)
        {
            if (!TryGrow(len)) return 0;
        }
        int at = _total - (int)offset;
        name.CopyTo(_buf.AsSpan(at));
        _buf[at + name.Length] = 0;
        _sizeStrings += len;
        Fdt.SetSizeDtStrings(_buf, (uint)_sizeStrings);
        return -(int)offset;
    }

    /// <summary>
    /// fdt_property_placeholder(): find or add the name, then append FDT_PROP, len, nameoff and room for the
    /// value (zero padding to 4 written here). <paramref name="value"/> is where the caller writes the value.
    /// </summary>
    public int PropertyPlaceholder(ReadOnlySpan<byte> name, int len, out Span<byte> value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(len);
        value = default;
        int err = ProbeStruct();
        if (err != 0) return err;
        name = CString(name);

        int nameoff;
        bool allocated;
        if ((_flags & FdtCreateFlags.NoNameDedup) != 0)
        {
            allocated = true;
            nameoff = AddString(name);
        }
        else
        {
            nameoff = _names.Find(name, _buf, _total);
            allocated = nameoff == 0;
            if (allocated) nameoff = AddString(name);
        }
        if (nameoff == 0) return FdtError.NoSpace.Neg();

        int aligned = FdtConst.TagAlign(len);
        int at = GrabSpace(FdtConst.PropHeaderSize + aligned);
        if (at < 0)
        {
            if (allocated)
            {
                // fdt_del_last_string_(): forget the name added for this call.
                _sizeStrings -= name.Length + 1;
                Fdt.SetSizeDtStrings(_buf, (uint)_sizeStrings);
            }
            return FdtError.NoSpace.Neg();
        }
        if (allocated && (_flags & FdtCreateFlags.NoNameDedup) == 0) _names.AddWithSuffixes(name, nameoff);

        Span<byte> p = _buf.AsSpan(at, FdtConst.PropHeaderSize + aligned);
        BinaryPrimitives.WriteUInt32BigEndian(p, FdtConst.Prop);
        BinaryPrimitives.WriteInt32BigEndian(p[4..], len);
        BinaryPrimitives.WriteInt32BigEndian(p[8..], nameoff);
        p[(FdtConst.PropHeaderSize + len)..].Clear();
        value = p.Slice(FdtConst.PropHeaderSize, len);
        return 0;
    }

    /// <summary>fdt_property(): a property with raw value bytes.</summary>
    public int Property(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        int err = PropertyPlaceholder(name, value.Length, out Span<byte> dst);
        if (err != 0) return err;
        value.CopyTo(dst);
        return 0;
    }

    /// <summary>fdt_property() with a string name.</summary>
    public int Property(string name, ReadOnlySpan<byte> value) => Property(Utf8(name, stackalloc byte[256]), value);

    /// <summary>fdt_property_u32(): big-endian 4 bytes.</summary>
    public int PropertyU32(ReadOnlySpan<byte> name, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, value);
        return Property(name, v);
    }

    /// <summary>fdt_property_cell(): same as fdt_property_u32().</summary>
    public int PropertyCell(ReadOnlySpan<byte> name, uint value) => PropertyU32(name, value);

    /// <summary>fdt_property_u64(): big-endian 8 bytes (DT convention; KHO/LUO values use <see cref="PropertyU64Le"/>).</summary>
    public int PropertyU64(ReadOnlySpan<byte> name, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(v, value);
        return Property(name, v);
    }

    /// <summary>
    /// fdt_property(fdt, name, &amp;u64, 8) as the kernel's KHO/LUO code writes it: the CPU's little-endian image
    /// (fdt.md §7 "KHO/LUO exception").
    /// </summary>
    public int PropertyU64Le(ReadOnlySpan<byte> name, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(v, value);
        return Property(name, v);
    }

    /// <summary>fdt_property_string(): the string's bytes and a NUL.</summary>
    public int PropertyString(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        value = CString(value);
        int err = PropertyPlaceholder(name, value.Length + 1, out Span<byte> dst);
        if (err != 0) return err;
        value.CopyTo(dst);
        dst[value.Length] = 0;
        return 0;
    }

    /// <summary>fdt_property_string() with strings (UTF-8).</summary>
    public int PropertyString(string name, string value) =>
        PropertyString(Utf8(name, stackalloc byte[256]), Utf8(value, stackalloc byte[512]));

    /// <summary>fdt_property(fdt, name, NULL, 0): an empty property.</summary>
    public int PropertyEmpty(ReadOnlySpan<byte> name) => Property(name, ReadOnlySpan<byte>.Empty);

    /// <summary>
    /// fdt_finish(): append FDT_END, move the strings table down behind the structure block, add the table
    /// size to every nameoff, set totalsize, last_comp_version 16 and the real magic.
    /// </summary>
    public int Finish()
    {
        int err = ProbeStruct();
        if (err != 0) return err;
        int at = GrabSpace(FdtConst.TagSize);
        if (at < 0) return FdtError.NoSpace.Neg();
        BinaryPrimitives.WriteUInt32BigEndian(_buf.AsSpan(at, 4), FdtConst.End);

        int oldStr = _total - _sizeStrings;
        int newStr = _offStruct + _sizeStruct;
        _buf.AsSpan(oldStr, _sizeStrings).CopyTo(_buf.AsSpan(newStr));
        Fdt.SetOffDtStrings(_buf, (uint)newStr);

        // Walk the structure block (our own output) and rebase every nameoff.
        Span<byte> s = _buf.AsSpan(_offStruct, _sizeStruct);
        int offset = 0;
        while (true)
        {
            uint tag = BinaryPrimitives.ReadUInt32BigEndian(s[offset..]);
            if (tag == FdtConst.End) break;
            switch (tag)
            {
                case FdtConst.BeginNode:
                    offset += FdtConst.TagSize + FdtConst.TagAlign(s[(offset + FdtConst.TagSize)..].IndexOf((byte)0) + 1);
                    break;
                case FdtConst.Prop:
                    int len = BinaryPrimitives.ReadInt32BigEndian(s[(offset + 4)..]);
                    Span<byte> no = s.Slice(offset + 8, 4);
                    BinaryPrimitives.WriteInt32BigEndian(no, BinaryPrimitives.ReadInt32BigEndian(no) + _sizeStrings);
                    offset += FdtConst.PropHeaderSize + FdtConst.TagAlign(len);
                    break;
                default:
                    offset += FdtConst.TagSize;
                    break;
            }
        }

        _total = newStr + _sizeStrings;
        Fdt.SetTotalSize(_buf, (uint)_total);
        Fdt.SetLastCompVersion(_buf, FdtConst.LastCompatibleVersion);
        Fdt.SetMagic(_buf, FdtConst.Magic);
        _state = State.Complete;
        return 0;
    }

    /// <summary>Copies the finished blob into a new array.</summary>
    public byte[] ToArray() => Blob.ToArray();

    private void ReleasePooled()
    {
        if (_pooled) ArrayPool<byte>.Shared.Return(_buf);
        _pooled = false;
        _buf = [];
        _total = 0;
        _state = State.None;
    }

    /// <summary>Returns a pooled buffer and forgets the tree (IResettable for <see cref="Pool"/>).</summary>
    public bool TryReset()
    {
        ReleasePooled();
        _names.Clear();
        return true;
    }

    /// <summary>Returns a pooled buffer.</summary>
    public void Dispose() => ReleasePooled();
}
