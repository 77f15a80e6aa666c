namespace LuoModel.Fdt;

/// <summary>Format constants of the flattened device tree (fdt.md §1–§4).</summary>
public static class FdtConst
{
    /// <summary>FDT_MAGIC.</summary>
    public const uint Magic = 0xD00DFEED;
    /// <summary>FDT_SW_MAGIC: the private magic of an unfinished sequential-write blob (~FDT_MAGIC).</summary>
    public const uint SwMagic = ~Magic;
    /// <summary>FDT_BEGIN_NODE.</summary>
    public const uint BeginNode = 0x1;
    /// <summary>FDT_END_NODE.</summary>
    public const uint EndNode = 0x2;
    /// <summary>FDT_PROP.</summary>
    public const uint Prop = 0x3;
    /// <summary>FDT_NOP.</summary>
    public const uint Nop = 0x4;
    /// <summary>FDT_END.</summary>
    public const uint End = 0x9;
    /// <summary>FDT_TAGSIZE.</summary>
    public const int TagSize = 4;
    /// <summary>sizeof(struct fdt_property): tag, len, nameoff.</summary>
    public const int PropHeaderSize = 12;
    /// <summary>sizeof(struct fdt_reserve_entry).</summary>
    public const int ReserveEntrySize = 16;
    /// <summary>sizeof(struct fdt_header) for version 17.</summary>
    public const int HeaderSize = 40;
    /// <summary>FDT_V1_SIZE: the smallest header libfdt looks at.</summary>
    public const int V1Size = 28;
    /// <summary>FDT_FIRST_SUPPORTED_VERSION.</summary>
    public const uint FirstSupportedVersion = 2;
    /// <summary>FDT_LAST_SUPPORTED_VERSION.</summary>
    public const uint LastSupportedVersion = 17;
    /// <summary>FDT_LAST_COMPATIBLE_VERSION written by finished blobs.</summary>
    public const uint LastCompatibleVersion = 16;
    /// <summary>Header size rounded up to a reservation entry: where the sequential writer starts the rsvmap.</summary>
    public const int SwHeaderSize = 48;

    /// <summary>FDT_TAGALIGN(): round up to 4.</summary>
    public static int TagAlign(int x) => (x + 3) & ~3;
}

/// <summary>Byte offsets of the header fields (fdt.md §2). All fields are big-endian u32.</summary>
public static class FdtHeaderOffsets
{
    /// <summary>magic.</summary>
    public const int Magic = 0;
    /// <summary>totalsize.</summary>
    public const int TotalSize = 4;
    /// <summary>off_dt_struct.</summary>
    public const int OffDtStruct = 8;
    /// <summary>off_dt_strings.</summary>
    public const int OffDtStrings = 12;
    /// <summary>off_mem_rsvmap.</summary>
    public const int OffMemRsvmap = 16;
    /// <summary>version.</summary>
    public const int Version = 20;
    /// <summary>last_comp_version.</summary>
    public const int LastCompVersion = 24;
    /// <summary>boot_cpuid_phys (from version 2).</summary>
    public const int BootCpuidPhys = 28;
    /// <summary>size_dt_strings (from version 3).</summary>
    public const int SizeDtStrings = 32;
    /// <summary>size_dt_struct (from version 17).</summary>
    public const int SizeDtStruct = 36;
}
