using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace LuoModel.Fdt;

/// <summary>
/// libfdt's read-only API over a blob in a span (fdt.md §9). Every function returns libfdt's result:
/// a non-negative offset/length/count, or a negated <see cref="FdtError"/>. Offsets of nodes and
/// properties are relative to the structure block, as in libfdt.
/// </summary>
/// <remarks>
/// libfdt trusts <c>totalsize</c> once a probe passed and would read past a shorter buffer; this
/// implementation additionally bounds every read by the span's length, so a truncated or hostile
/// blob yields an error code (the same one libfdt gives for data missing past <c>totalsize</c>)
/// instead of an out-of-bounds read. A span has no address, so the 8-byte address alignment check of
/// libfdt (<c>FDT_ERR_ALIGNMENT</c>) never fires.
/// </remarks>
public static partial class Fdt
{
    /// <summary>Reads a big-endian header word, or 0 if the span does not hold it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Hdr(ReadOnlySpan<byte> fdt, int offset) =>
        (uint)fdt.Length >= (uint)(offset + 4) ? BinaryPrimitives.ReadUInt32BigEndian(fdt.Slice(offset, 4)) : 0u;

    /// <summary>fdt_magic().</summary>
    public static uint Magic(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.Magic);
    /// <summary>fdt_totalsize().</summary>
    public static uint TotalSize(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.TotalSize);
    /// <summary>fdt_off_dt_struct().</summary>
    public static uint OffDtStruct(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.OffDtStruct);
    /// <summary>fdt_off_dt_strings().</summary>
    public static uint OffDtStrings(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.OffDtStrings);
    /// <summary>fdt_off_mem_rsvmap().</summary>
    public static uint OffMemRsvmap(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.OffMemRsvmap);
    /// <summary>fdt_version().</summary>
    public static uint Version(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.Version);
    /// <summary>fdt_last_comp_version().</summary>
    public static uint LastCompVersion(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.LastCompVersion);
    /// <summary>fdt_boot_cpuid_phys().</summary>
    public static uint BootCpuidPhys(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.BootCpuidPhys);
    /// <summary>fdt_size_dt_strings().</summary>
    public static uint SizeDtStrings(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.SizeDtStrings);
    /// <summary>fdt_size_dt_struct().</summary>
    public static uint SizeDtStruct(ReadOnlySpan<byte> fdt) => Hdr(fdt, FdtHeaderOffsets.SizeDtStruct);

    /// <summary>Writes a big-endian header word (the fdt_set_*() helpers).</summary>
    internal static void SetHdr(Span<byte> fdt, int offset, uint value) =>
        BinaryPrimitives.WriteUInt32BigEndian(fdt.Slice(offset, 4), value);

    /// <summary>fdt_set_magic().</summary>
    public static void SetMagic(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.Magic, v);
    /// <summary>fdt_set_totalsize().</summary>
    public static void SetTotalSize(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.TotalSize, v);
    /// <summary>fdt_set_off_dt_struct().</summary>
    public static void SetOffDtStruct(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.OffDtStruct, v);
    /// <summary>fdt_set_off_dt_strings().</summary>
    public static void SetOffDtStrings(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.OffDtStrings, v);
    /// <summary>fdt_set_off_mem_rsvmap().</summary>
    public static void SetOffMemRsvmap(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.OffMemRsvmap, v);
    /// <summary>fdt_set_version().</summary>
    public static void SetVersion(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.Version, v);
    /// <summary>fdt_set_last_comp_version().</summary>
    public static void SetLastCompVersion(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.LastCompVersion, v);
    /// <summary>fdt_set_boot_cpuid_phys().</summary>
    public static void SetBootCpuidPhys(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.BootCpuidPhys, v);
    /// <summary>fdt_set_size_dt_strings().</summary>
    public static void SetSizeDtStrings(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.SizeDtStrings, v);
    /// <summary>fdt_set_size_dt_struct().</summary>
    public static void SetSizeDtStruct(Span<byte> fdt, uint v) => SetHdr(fdt, FdtHeaderOffsets.SizeDtStruct, v);

    /// <summary>fdt_header_size_(): 28, 32, 36 or 40 bytes depending on the version (fdt.md §2).</summary>
    public static int HeaderSizeForVersion(uint version) =>
        version <= 1 ? 28 : version <= 2 ? 32 : version < 17 ? 36 : 40;

    /// <summary>fdt_header_size() of this blob.</summary>
    public static int HeaderSize(ReadOnlySpan<byte> fdt) => HeaderSizeForVersion(Version(fdt));

    /// <summary>
    /// fdt_ro_probe_(): the quick check every read-only call starts with (fdt.md §9). Returns
    /// <c>totalsize</c> or a negated code. Also refuses a span shorter than the fields it reads.
    /// </summary>
    public static int RoProbe(ReadOnlySpan<byte> fdt)
    {
        if (fdt.Length < FdtConst.V1Size) return FdtError.Truncated.Neg();
        uint magic = Magic(fdt);
        if (magic == FdtConst.Magic)
        {
            if (Version(fdt) < FdtConst.FirstSupportedVersion) return FdtError.BadVersion.Neg();
            if (LastCompVersion(fdt) > FdtConst.LastSupportedVersion) return FdtError.BadVersion.Neg();
        }
        else if (magic == FdtConst.SwMagic)
        {
            if (SizeDtStruct(fdt) == 0) return FdtError.BadState.Neg();
        }
        else
        {
            return FdtError.BadMagic.Neg();
        }
        uint total = TotalSize(fdt);
        return total < int.MaxValue ? (int)total : FdtError.Truncated.Neg();
    }

    private static bool CheckOff(uint hdrsize, uint totalsize, uint off) => off >= hdrsize && off <= totalsize;

    private static bool CheckBlock(uint hdrsize, uint totalsize, uint baseOff, uint size) =>
        CheckOff(hdrsize, totalsize, baseOff) && baseOff + size >= baseOff && CheckOff(hdrsize, totalsize, baseOff + size);

    /// <summary>
    /// fdt_check_header() of libfdt 1.6.1 (fdt.md §9): magic, version pair, totalsize, then the bounds of the
    /// three blocks against totalsize, first failure wins. It trusts totalsize, as libfdt does; only a span
    /// too short to hold the header is refused here with TRUNCATED.
    /// </summary>
    public static int CheckHeader(ReadOnlySpan<byte> fdt)
    {
        if (fdt.Length < FdtConst.V1Size) return FdtError.Truncated.Neg();
        if (Magic(fdt) != FdtConst.Magic) return FdtError.BadMagic.Neg();
        uint version = Version(fdt), lastComp = LastCompVersion(fdt);
        if (version < FdtConst.FirstSupportedVersion || lastComp > FdtConst.LastSupportedVersion) return FdtError.BadVersion.Neg();
        if (version < lastComp) return FdtError.BadVersion.Neg();
        uint hdrsize = (uint)HeaderSizeForVersion(version);
        if (fdt.Length < hdrsize) return FdtError.Truncated.Neg();
        uint total = TotalSize(fdt);
        if (total < hdrsize || total > int.MaxValue) return FdtError.Truncated.Neg();
        if (!CheckOff(hdrsize, total, OffMemRsvmap(fdt))) return FdtError.Truncated.Neg();
        if (version < 17)
        {
            if (!CheckOff(hdrsize, total, OffDtStruct(fdt))) return FdtError.Truncated.Neg();
        }
        else if (!CheckBlock(hdrsize, total, OffDtStruct(fdt), SizeDtStruct(fdt)))
        {
            return FdtError.Truncated.Neg();
        }
        if (!CheckBlock(hdrsize, total, OffDtStrings(fdt), SizeDtStrings(fdt))) return FdtError.Truncated.Neg();
        return 0;
    }
}
