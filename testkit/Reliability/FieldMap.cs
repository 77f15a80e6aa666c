using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Handover;

namespace LuoModel.Testkit.Reliability;

/// <summary>What a byte of a metadata structure means to the next kernel.</summary>
public enum FieldKind
{
    /// <summary>A value the kernel passes through or checks by value (name, token, compatible, pos, size,
    /// seals, nr_folios, folio index, data byte, ...): the outcome is predicted exactly from the bytes.</summary>
    Value,
    /// <summary>A physical address the kernel follows (chain next, files, data, chunk slots, radix slots, pfn).</summary>
    Pointer,
    /// <summary>A count the kernel checks or iterates by (block count, file count, total_pages, order).</summary>
    Count,
    /// <summary>Bytes of a KHO structure parsed as a whole (root FDT, radix leaf bitmap, scratch array).</summary>
    Structural,
}

/// <summary>Field of one corrupted byte: kind, name and the field's offset inside its region.</summary>
public readonly record struct FieldInfo(FieldKind Kind, string Name, int FieldOffset, int FieldSize);

/// <summary>Byte-to-field maps of the structures of luo.md §5.2–§5.5, §6.4 and kho.md §3.1, §4.5.</summary>
public static class FieldMap
{
    /// <summary>The field that byte <paramref name="offset"/> of region <paramref name="r"/> belongs to.</summary>
    public static FieldInfo Classify(MetadataRegion r, int offset) => r.Kind switch
    {
        MetaKind.KhoFdt => new(FieldKind.Structural, "fdt", 0, r.Length),
        MetaKind.ScratchArray => new(FieldKind.Structural, offset % KhoScratch.SizeOf < 8 ? "scratch addr" : "scratch size", offset & ~7, 8),
        MetaKind.RadixPage => r.Label == "radix leaf"
            ? new(FieldKind.Structural, "leaf bitmap", offset & ~7, 8)
            : new(FieldKind.Pointer, "table slot", offset & ~7, 8),
        MetaKind.LuoRoot => (offset / 8) switch
        {
            0 => new(FieldKind.Value, "compatible", 0, 8),
            1 => new(FieldKind.Value, "liveupdate_num", 8, 8),
            2 => new(FieldKind.Pointer, "sessions_pa", 16, 8),
            _ => new(FieldKind.Value, "flbs_pa", 24, 8),
        },
        MetaKind.SessionBlock => Block(offset, LuoSessionSer.Size, o => o switch
        {
            < LuoSessionSer.FilesOffset => new(FieldKind.Value, "name", 0, LuoSessionSer.NameLength),
            < LuoSessionSer.CountOffset => new(FieldKind.Pointer, "files", LuoSessionSer.FilesOffset, 8),
            _ => new(FieldKind.Count, "file count", LuoSessionSer.CountOffset, 8),
        }),
        MetaKind.FileBlock => Block(offset, LuoFileSer.Size, o => o switch
        {
            < LuoFileSer.DataOffset => new(FieldKind.Value, "compatible", 0, LuoFileSer.CompatibleLength),
            < LuoFileSer.TokenOffset => new(FieldKind.Pointer, "data", LuoFileSer.DataOffset, 8),
            _ => new(FieldKind.Value, "token", LuoFileSer.TokenOffset, 8),
        }),
        MetaKind.MemfdRecord => offset switch
        {
            < MemfdLuoSer.SizeOffset => new(FieldKind.Value, "pos", 0, 8),
            < MemfdLuoSer.SealsOffset => new(FieldKind.Value, "size", 8, 8),
            < MemfdLuoSer.FlagsOffset => new(FieldKind.Value, "seals", 16, 4),
            < MemfdLuoSer.NrFoliosOffset => new(FieldKind.Value, "flags", 20, 4),
            < MemfdLuoSer.FoliosOffset => new(FieldKind.Value, "nr_folios", 24, 8),
            < 40 => new(FieldKind.Pointer, "folios.first", 32, 8),
            < 44 => new(FieldKind.Count, "folios.total_pages", 40, 4),
            < 46 => new(FieldKind.Value, "folios.flags", 44, 2),
            _ => new(FieldKind.Count, "folios.order", 46, 2),
        },
        MetaKind.FolioArray => (offset % MemfdLuoFolioSer.Size) switch
        {
            < 7 => new(FieldKind.Pointer, "pfn", offset & ~15, 8),
            7 => new(FieldKind.Value, "folio flags", offset & ~15, 8),
            _ => new(FieldKind.Value, "index", (offset & ~15) + 8, 8),
        },
        MetaKind.VmallocChunk => new(FieldKind.Pointer, offset < 8 ? "chunk next" : "chunk slot", offset & ~7, 8),
        MetaKind.FlbPage => new(FieldKind.Value, offset < 16 ? "flb header" : "flb entry", offset & ~7, 8),
        MetaKind.MemfdData => new(FieldKind.Value, "data byte", offset, 1),
        _ => new(FieldKind.Structural, r.Kind.ToString(), 0, r.Length),
    };

    private static FieldInfo Block(int offset, int entrySize, Func<int, FieldInfo> entry)
    {
        if (offset < KhoBlockHeaderSer.CountOffset) return new(FieldKind.Pointer, "block next", 0, 8);
        if (offset < KhoBlockHeaderSer.Size) return new(FieldKind.Count, "block count", 8, 8);
        int e = (offset - KhoBlockHeaderSer.Size) / entrySize;
        var f = entry((offset - KhoBlockHeaderSer.Size) % entrySize);
        return f with { FieldOffset = KhoBlockHeaderSer.Size + (e * entrySize) + f.FieldOffset };
    }
}
