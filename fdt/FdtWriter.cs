using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.ObjectPool;

namespace LuoModel.Fdt;

/// <summary>
/// libfdt's sequential-write API (fdt_sw.c; fdt.md §8) over a byte array. The output is byte-identical to
/// libfdt 1.6.1: header rounded to 48 bytes, the strings table growing down from the end of the buffer,
/// reverse order of first use after <see cref="Finish"/>, tail sharing, and the same error codes
/// (NOSPACE, BADSTATE, BADMAGIC, BADFLAGS). The buffer holds a valid libfdt in-progress blob between calls.
/// </summary>
/// <remarks>
/// Differences that do not change any byte: name look-up goes through <see cref="FdtNameCache"/> instead of a
/// linear scan, and the writer keeps the block sizes in fields as well as in the header. In growable mode
/// (<see cref="CreateGrowable"/>) a pooled buffer is enlarged with the fdt_resize() rule whenever a call would
/// fail with NOSPACE, so callers that do not know the final size never see that error.
/// </remarks>
public sealed partial class FdtWriter : IDisposable, IResettable
{
    private enum State { None, MemRsv, Struct, Complete }

    private byte[] _buf = [];
    private int _total;          // totalsize while building = usable buffer size
    private int _offStruct;
    private int _sizeStruct;
    private int _sizeStrings;
    private State _state;
    private FdtCreateFlags _flags;
    private bool _growable;
    private bool _pooled;
    private readonly FdtNameCache _names = new();

    /// <summary>A pool of writers for callers that serialize repeatedly (style.md §6).</summary>
    public static ObjectPool<FdtWriter> Pool { get; } = new DefaultObjectPoolProvider().Create<FdtWriter>();

    /// <summary>The buffer being written (in growable mode it may be replaced as it grows).</summary>
    public byte[] Buffer => _buf;

    /// <summary>The blob's totalsize field (the buffer size until <see cref="Finish"/>).</summary>
    public int TotalSize => _total;

    /// <summary>The finished blob (empty before <see cref="Finish"/> succeeded).</summary>
    public ReadOnlySpan<byte> Blob => _state == State.Complete ? _buf.AsSpan(0, _total) : default;

    /// <summary>True once <see cref="Finish"/> succeeded.</summary>
    public bool IsFinished => _state == State.Complete;

    /// <summary>fdt_create(): start a tree in the first <paramref name="size"/> bytes of <paramref name="buffer"/>.</summary>
    public int Create(byte[] buffer, int size) => CreateWithFlags(buffer, size, FdtCreateFlags.None);

    /// <summary>fdt_create() over the whole array.</summary>
    public int Create(byte[] buffer) => CreateWithFlags(buffer, buffer.Length, FdtCreateFlags.None);

    /// <summary>
    /// fdt_create_with_flags(): zeroes the buffer, writes the private magic, version 17, the flags in
    /// last_comp_version, totalsize = size, rsvmap and struct at 48 (fdt.md §8).
    /// </summary>
    public int CreateWithFlags(byte[] buffer, int size, FdtCreateFlags flags)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, buffer.Length);
        ReleasePooled();
        _growable = false;
        return Init(buffer, size, flags);
    }

    /// <summary>
    /// Growable variant: a buffer rented from <see cref="ArrayPool{T}"/> that is enlarged (fdt_resize())
    /// whenever an append would not fit. <see cref="Dispose"/> or <see cref="TryReset"/> returns it.
    /// </summary>
    public int CreateGrowable(int initialSize = 1024, FdtCreateFlags flags = FdtCreateFlags.None)
    {
        ReleasePooled();
        initialSize = Math.Max(initialSize, FdtConst.SwHeaderSize + FdtConst.ReserveEntrySize);
        byte[] buf = ArrayPool<byte>.Shared.Rent(initialSize);
        _pooled = true;
        _growable = true;
        return Init(buf, buf.Length, flags);
    }

    private int Init(byte[] buffer, int size, FdtCreateFlags flags)
    {
        _state = State.None;
        if (size < FdtConst.SwHeaderSize) return FdtError.NoSpace.Neg();
        if ((flags & ~FdtCreateFlags.NoNameDedup) != 0) return FdtError.BadFlags.Neg();
        buffer.AsSpan(0, size).Clear();
        _buf = buffer;
        _total = size;
        _flags = flags;
        _offStruct = FdtConst.SwHeaderSize;
        _sizeStruct = 0;
        _sizeStrings = 0;
        _names.Clear();
        _names.Bind(_buf, _total);
        Span<byte> h = _buf;
        Fdt.SetMagic(h, FdtConst.SwMagic);
        Fdt.SetVersion(h, FdtConst.LastSupportedVersion);
        Fdt.SetLastCompVersion(h, (uint)flags);
        Fdt.SetTotalSize(h, (uint)size);
        Fdt.SetOffMemRsvmap(h, FdtConst.SwHeaderSize);
        Fdt.SetOffDtStruct(h, FdtConst.SwHeaderSize);
        Fdt.SetOffDtStrings(h, 0);
        _state = State.MemRsv;
        return 0;
    }

    /// <summary>
    /// fdt_resize(): move the tree being built into another buffer (bigger or smaller); the structure part
    /// keeps its offset, the strings table moves to the new end.
    /// </summary>
    public int Resize(byte[] buffer, int size)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, buffer.Length);
        int probe = ProbeAny();
        if (probe != 0) return probe;
        if (size < 0) return FdtError.NoSpace.Neg();
        int head = _offStruct + _sizeStruct, tail = _sizeStrings;
        if (head + tail > size) return FdtError.NoSpace.Neg();
        byte[] old = _buf;
        int oldTotal = _total;
        // Separate arrays (or the same one): copy head, then tail, with overlap-safe span copies.
        if (ReferenceEquals(old, buffer) && size > oldTotal)
        {
            old.AsSpan(oldTotal - tail, tail).CopyTo(buffer.AsSpan(size - tail));
        }
        else
        {
            old.AsSpan(0, head).CopyTo(buffer);
            old.AsSpan(oldTotal - tail, tail).CopyTo(buffer.AsSpan(size - tail));
        }
        bool wasPooled = _pooled && !ReferenceEquals(old, buffer);
        _buf = buffer;
        _total = size;
        Fdt.SetTotalSize(_buf, (uint)size);
        if (_state == State.Struct) Fdt.SetOffDtStrings(_buf, (uint)size);
        _names.Bind(_buf, _total);
        if (wasPooled) { ArrayPool<byte>.Shared.Return(old); _pooled = false; }
        return 0;
    }

    /// <summary>Grows a growable writer so that <paramref name="extra"/> more bytes fit; false for a fixed buffer.</summary>
    private bool TryGrow(int extra)
    {
        if (!_growable) return false;
        long need = (long)_offStruct + _sizeStruct + _sizeStrings + extra + 64;
        long newSize = Math.Max((long)_total * 2, need);
        if (newSize > Array.MaxLength) return false;
        byte[] nb = ArrayPool<byte>.Shared.Rent((int)newSize);
        // Every byte of the blob is written explicitly (padding included), so the new array needs no clearing.
        bool hadPooled = _pooled;
        _pooled = false;
        byte[] old = _buf;
        int r = Resize(nb, nb.Length);
        if (r != 0) { ArrayPool<byte>.Shared.Return(nb); _pooled = hadPooled; return false; }
        if (hadPooled) ArrayPool<byte>.Shared.Return(old);
        _pooled = true;
        return true;
    }

    private int ProbeAny() => _state switch
    {
        State.None => FdtError.BadMagic.Neg(),
        State.Complete => FdtError.BadState.Neg(),
        _ => 0,
    };

    private int ProbeMemRsv() => _state == State.MemRsv ? 0 : _state == State.None ? FdtError.BadMagic.Neg() : FdtError.BadState.Neg();

    private int ProbeStruct() => _state == State.Struct ? 0 : _state == State.None ? FdtError.BadMagic.Neg() : FdtError.BadState.Neg();

    /// <summary>fdt_add_reservemap_entry(): append one big-endian (address, size) entry.</summary>
    public int AddReservemapEntry(ulong address, ulong size)
    {
        int err = ProbeMemRsv();
        if (err != 0) return err;
        if (_offStruct + FdtConst.ReserveEntrySize > _total && !TryGrow(FdtConst.ReserveEntrySize)) return FdtError.NoSpace.Neg();
        Span<byte> e = _buf.AsSpan(_offStruct, FdtConst.ReserveEntrySize);
        BinaryPrimitives.WriteUInt64BigEndian(e, address);
        BinaryPrimitives.WriteUInt64BigEndian(e[8..], size);
        _offStruct += FdtConst.ReserveEntrySize;
        Fdt.SetOffDtStruct(_buf, (uint)_offStruct);
        return 0;
    }

    /// <summary>fdt_finish_reservemap(): append the (0, 0) terminator and enter the structure state.</summary>
    public int FinishReservemap()
    {
        int err = AddReservemapEntry(0, 0);
        if (err != 0) return err;
        Fdt.SetOffDtStrings(_buf, (uint)_total);
        _state = State.Struct;
        return 0;
    }

    /// <summary>fdt_grab_space_(): absolute offset of <paramref name="len"/> new structure bytes, or -1.</summary>
    private int GrabSpace(int len)
    {
        long spaceLeft = (long)_total - _offStruct - _sizeStrings;
        if ((long)_sizeStruct + len > spaceLeft)
        {
            if (!TryGrow(len)) return -1;
        }
        int at = _offStruct + _sizeStruct;
        _sizeStruct += len;
        Fdt.SetSizeDtStruct(_buf, (uint)_sizeStruct);
        return at;
    }

    /// <summary>A C string argument: the bytes up to the first NUL.</summary>
    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> s)
    {
        int n = s.IndexOf((byte)0);
        return n < 0 ? s : s[..n];
    }

    /// <summary>fdt_begin_node(): FDT_BEGIN_NODE, the name, its NUL, zero padding to 4.</summary>
    public int BeginNode(ReadOnlySpan<byte> name)
    {
        int err = ProbeStruct();
        if (err != 0) return err;
        name = CString(name);
        int namelen = name.Length + 1;
        int at = GrabSpace(FdtConst.TagSize + FdtConst.TagAlign(namelen));
        if (at < 0) return FdtError.NoSpace.Neg();
        Span<byte> b = _buf.AsSpan(at);
        BinaryPrimitives.WriteUInt32BigEndian(b, FdtConst.BeginNode);
        name.CopyTo(b[FdtConst.TagSize..]);
        // The buffer was zeroed by fdt_create(); padding and the NUL are already zero there, but a
        // resized or reused region is cleared explicitly so the bytes never depend on history.
        b.Slice(FdtConst.TagSize + name.Length, FdtConst.TagAlign(namelen) - name.Length).Clear();
        return 0;
    }

    /// <summary>fdt_begin_node() with a string name (UTF-8).</summary>
    public int BeginNode(string name) => BeginNode(Utf8(name, stackalloc byte[256]));

    /// <summary>fdt_end_node().</summary>
    public int EndNode()
    {
        int err = ProbeStruct();
        if (err != 0) return err;
        int at = GrabSpace(FdtConst.TagSize);
        if (at < 0) return FdtError.NoSpace.Neg();
        BinaryPrimitives.WriteUInt32BigEndian(_buf.AsSpan(at, 4), FdtConst.EndNode);
        return 0;
    }

    internal static ReadOnlySpan<byte> Utf8(string s, Span<byte> scratch)
    {
        if (Encoding.UTF8.GetMaxByteCount(s.Length) <= scratch.Length)
            return scratch[..Encoding.UTF8.GetBytes(s, scratch)];
        return Encoding.UTF8.GetBytes(s);
    }
}
