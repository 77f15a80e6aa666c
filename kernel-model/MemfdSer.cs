using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>struct memfd_luo_ser (luo.md §6.4): memfd-v2 48 bytes (pos, size, seals, flags, nr_folios,
/// folios); memfd-v1 40 bytes (pos, size, nr_folios, folios).</summary>
public readonly record struct MemfdLuoSer(ulong Pos, ulong Size, uint Seals, uint Flags, ulong NrFolios, KhoVmalloc Folios)
{
    /// <summary>memfd-v2 size.</summary>
    public const int SizeV2 = 48;
    /// <summary>memfd-v1 size.</summary>
    public const int SizeV1 = 40;
    /// <summary>memfd-v2 offsets.</summary>
    public const int PosOffset = 0, SizeOffset = 8, SealsOffset = 16, FlagsOffset = 20, NrFoliosOffset = 24, FoliosOffset = 32;
    /// <summary>memfd-v1 offsets (pos and size as v2).</summary>
    public const int V1NrFoliosOffset = 16, V1FoliosOffset = 24;

    /// <summary>Reads a record of the given version.</summary>
    public static MemfdLuoSer ReadFrom(ReadOnlySpan<byte> s, MemfdVersion v)
    {
        if (v == MemfdVersion.V1)
        {
            var f1 = KhoVmalloc.ReadFrom(s.Slice(V1FoliosOffset, KhoVmalloc.SizeOf));
            return new(BinaryPrimitives.ReadUInt64LittleEndian(s[PosOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(s[SizeOffset..]), 0, 0,
                BinaryPrimitives.ReadUInt64LittleEndian(s[V1NrFoliosOffset..]), f1);
        }
        var f = KhoVmalloc.ReadFrom(s.Slice(FoliosOffset, KhoVmalloc.SizeOf));
        return new(BinaryPrimitives.ReadUInt64LittleEndian(s[PosOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(s[SizeOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[SealsOffset..]), BinaryPrimitives.ReadUInt32LittleEndian(s[FlagsOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[NrFoliosOffset..]), f);
    }

    /// <summary>Writes a record of the given version.</summary>
    public void WriteTo(Span<byte> s, MemfdVersion v)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[PosOffset..], Pos);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SizeOffset..], Size);
        if (v == MemfdVersion.V1)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[V1NrFoliosOffset..], NrFolios);
            Folios.WriteTo(s.Slice(V1FoliosOffset, KhoVmalloc.SizeOf));
            return;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[SealsOffset..], Seals);
        BinaryPrimitives.WriteUInt32LittleEndian(s[FlagsOffset..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(s[NrFoliosOffset..], NrFolios);
        Folios.WriteTo(s.Slice(FoliosOffset, KhoVmalloc.SizeOf));
    }
}

/// <summary>struct memfd_luo_folio_ser (luo.md §6.4), 16 bytes: pfn bits 0–51 and flags bits 52–63 of the
/// first u64, index at 8.</summary>
public readonly record struct MemfdLuoFolioSer(ulong Pfn, uint Flags, ulong Index)
{
    /// <summary>sizeof.</summary>
    public const int Size = 16;
    /// <summary>Offsets.</summary>
    public const int PfnFlagsOffset = 0, IndexOffset = 8;
    /// <summary>MEMFD_LUO_FOLIO_DIRTY.</summary>
    public const uint FlagDirty = 1;
    /// <summary>MEMFD_LUO_FOLIO_UPTODATE.</summary>
    public const uint FlagUptodate = 2;
    /// <summary>Width of the pfn bitfield.</summary>
    public const int PfnBits = 52;

    /// <summary>Reads an entry.</summary>
    public static MemfdLuoFolioSer ReadFrom(ReadOnlySpan<byte> s)
    {
        ulong index = BinaryPrimitives.ReadUInt64LittleEndian(s[IndexOffset..]);
        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(s[PfnFlagsOffset..]);
        return new(w & ((1UL << PfnBits) - 1), (uint)(w >> PfnBits), index);
    }

    /// <summary>Writes an entry.</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[IndexOffset..], Index);
        BinaryPrimitives.WriteUInt64LittleEndian(s[PfnFlagsOffset..], (Pfn & ((1UL << PfnBits) - 1)) | ((ulong)Flags << PfnBits));
    }
}
