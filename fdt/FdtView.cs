using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace LuoModel.Fdt;

/// <summary>
/// The header values the read-only functions consult on every token step, read once per public call.
/// libfdt reloads them from the blob each time (cheap in C); re-reading them through bounds-checked span
/// reads dominated the managed walk, so every internal helper takes this snapshot instead. The values and
/// the checks made with them are exactly those of the per-call reads they replace.
/// </summary>
internal readonly struct FdtView
{
    /// <summary>off_dt_struct.</summary>
    public readonly uint OffStruct;
    /// <summary>Structure-relative end that fdt_offset_ptr() accepts (see <see cref="Fdt.StructLimit"/>).</summary>
    public readonly long StructLimit;
    /// <summary>off_dt_strings.</summary>
    public readonly uint OffStrings;
    /// <summary>size_dt_strings.</summary>
    public readonly uint SizeStrings;
    /// <summary>version.</summary>
    public readonly uint Version;
    /// <summary>magic.</summary>
    public readonly uint Magic;
    /// <summary>fdt_ro_probe_() result: totalsize or a negated code.</summary>
    public readonly int Probe;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public FdtView(ReadOnlySpan<byte> fdt)
    {
        if (fdt.Length >= FdtConst.HeaderSize)
        {
            ReadOnlySpan<byte> h = fdt[..FdtConst.HeaderSize];
            uint sizeStruct = BinaryPrimitives.ReadUInt32BigEndian(h[FdtHeaderOffsets.SizeDtStruct..]);   // highest first
            Magic = BinaryPrimitives.ReadUInt32BigEndian(h);
            uint total = BinaryPrimitives.ReadUInt32BigEndian(h[FdtHeaderOffsets.TotalSize..]);
            OffStruct = BinaryPrimitives.ReadUInt32BigEndian(h[FdtHeaderOffsets.OffDtStruct..]);
            OffStrings = BinaryPrimitives.ReadUInt32BigEndian(h[FdtHeaderOffsets.OffDtStrings..]);
            Version = BinaryPrimitives.ReadUInt32BigEndian(h[FdtHeaderOffsets.Version..]);
            SizeStrings = BinaryPrimitives.ReadUInt32BigEndian(h[FdtHeaderOffsets.SizeDtStrings..]);
            long limit = Math.Min((long)total, fdt.Length) - OffStruct;
            if (Version >= 0x11) limit = Math.Min(limit, sizeStruct);
            StructLimit = limit;
            Probe = ProbeFrom(Magic, Version, BinaryPrimitives.ReadUInt32BigEndian(h[FdtHeaderOffsets.LastCompVersion..]), sizeStruct, total);
        }
        else
        {
            // Short spans: the same field reads as the individual accessors (missing bytes read as 0).
            Magic = Fdt.Magic(fdt);
            OffStruct = Fdt.OffDtStruct(fdt);
            OffStrings = Fdt.OffDtStrings(fdt);
            SizeStrings = Fdt.SizeDtStrings(fdt);
            Version = Fdt.Version(fdt);
            StructLimit = Fdt.StructLimit(fdt);
            Probe = Fdt.RoProbe(fdt);
        }
    }

    /// <summary>fdt_ro_probe_() from already-read fields (the span is known to hold the whole header).</summary>
    private static int ProbeFrom(uint magic, uint version, uint lastComp, uint sizeStruct, uint total)
    {
        if (magic == FdtConst.Magic)
        {
            if (version < FdtConst.FirstSupportedVersion || lastComp > FdtConst.LastSupportedVersion) return FdtError.BadVersion.Neg();
        }
        else if (magic == FdtConst.SwMagic)
        {
            if (sizeStruct == 0) return FdtError.BadState.Neg();
        }
        else
        {
            return FdtError.BadMagic.Neg();
        }
        return total < int.MaxValue ? (int)total : FdtError.Truncated.Neg();
    }
}
