namespace LuoModel.Testkit.Handover;

/// <summary>The LUO/KHO structures a handover consists of (kho.md §1.6, §3.1; luo.md §5, §5.8, §6.4).</summary>
public enum MetaKind
{
    /// <summary>KHO root FDT page (up to its totalsize).</summary>
    KhoFdt,
    /// <summary>A radix tree page of the preserved-memory map (table or bitmap leaf), whole page.</summary>
    RadixPage,
    /// <summary>The scratch array kexec segment (16 bytes per region).</summary>
    ScratchArray,
    /// <summary>luo_ser root (32 bytes).</summary>
    LuoRoot,
    /// <summary>A session block: header and its used entries.</summary>
    SessionBlock,
    /// <summary>A file block: header and its used entries.</summary>
    FileBlock,
    /// <summary>A memfd_luo_ser record.</summary>
    MemfdRecord,
    /// <summary>The used part of a memfd folio array page.</summary>
    FolioArray,
    /// <summary>A kho_vmalloc chunk: next and the used phys slots plus the terminating zero slot.</summary>
    VmallocChunk,
    /// <summary>The FLB page header (and used entries).</summary>
    FlbPage,
    /// <summary>A memfd data page (the preserved file contents, up to the file size).</summary>
    MemfdData,
    /// <summary>FDT era: the one-page "luo-v1" FDT (up to its totalsize).</summary>
    LuoFdt,
    /// <summary>FDT era: the used part of the 16-page session area (count + entries).</summary>
    FdtSessionArea,
    /// <summary>FDT era: the used part of a session's 2-page file area.</summary>
    FdtFileArea,
}

/// <summary>One metadata structure of a handover: kind, physical address, length of the meaningful bytes and
/// a label naming the owner (e.g. "session vm-1 file 0x2").</summary>
public readonly record struct MetadataRegion(MetaKind Kind, ulong Phys, int Length, string Label)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Kind} {Label} @0x{Phys:x}+{Length}";
}
