using System.Buffers.Binary;

namespace LuoModel.Kho;

/// <summary>A folio: naturally aligned block of 2^Order pages starting at Pfn.</summary>
public readonly record struct Folio(ulong Pfn, int Order)
{
    /// <summary>Physical address of the head page.</summary>
    public ulong Phys => Pfn << PhysicalArena.PageShift;
    /// <summary>Size in bytes.</summary>
    public ulong Size => (ulong)PhysicalArena.PageSize << Order;
    /// <summary>Folio whose head is at <paramref name="phys"/>.</summary>
    public static Folio FromPhys(ulong phys, int order) => new(phys >> PhysicalArena.PageShift, order);
    /// <inheritdoc/>
    public override string ToString() => $"folio(0x{Phys:x}, order {Order})";
}

/// <summary>A contract violation the kernel would WARN about (reported, never silently accepted).</summary>
public enum KhoWarning
{
    /// <summary>Preserve with no outgoing tree (KHO disabled or before kho_init): WARN once, -EINVAL (§2).</summary>
    NotInitialized,
    /// <summary>Debug check: the range overlaps a scratch region (§2 kho_scratch_overlap).</summary>
    ScratchOverlap,
    /// <summary>Unpreserve met a missing intermediate node (WARN_ON in the radix delete, §2.2).</summary>
    UnpreserveMissingPath,
    /// <summary>Restore of a page whose private lacks the KHOP magic (WARN once, §2.9).</summary>
    RestoreBadMagic,
    /// <summary>kho_restore_free() could not restore the folio (§2.8).</summary>
    RestoreFreeFailed,
    /// <summary>A run starting at pfn 0: undefined in the kernel (§2.3); the model rejects it with -EINVAL.</summary>
    UndefinedPfnZero,
    /// <summary>add/remove_subtree with no FDT: the kernel dereferences NULL (§2).</summary>
    NullFdt,
    /// <summary>kho_unpreserve_free() of an address that is not a folio from kho_alloc_preserve().</summary>
    NotAnAllocPreserveFolio,
}

/// <summary>One reported warning: kind, C function, physical address involved.</summary>
public readonly record struct KhoWarningRecord(KhoWarning Kind, string Function, ulong Phys)
{
    /// <inheritdoc/>
    public override string ToString() => $"WARN {Function}: {Kind} at 0x{Phys:x}";
}

/// <summary>struct kho_scratch { u64 addr; u64 size; } (kho.md §1.2), 16 bytes little-endian.</summary>
public readonly record struct KhoScratch(ulong Addr, ulong Size)
{
    /// <summary>sizeof(struct kho_scratch).</summary>
    public const int SizeOf = 16;
    private const int AddrOffset = 0, SizeOffset = 8;
    /// <summary>Reads one entry.</summary>
    public static KhoScratch ReadFrom(ReadOnlySpan<byte> s) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(s[AddrOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(s[SizeOffset..]));
    /// <summary>Writes one entry.</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[SizeOffset..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(s[AddrOffset..], Addr);
    }
}

/// <summary>struct kho_vmalloc (kho.md §4.5): u64 first @0, u32 total_pages @8, u16 flags @12, u16 order @14.</summary>
public record struct KhoVmalloc(ulong First, uint TotalPages, ushort Flags, ushort Order)
{
    /// <summary>sizeof(struct kho_vmalloc).</summary>
    public const int SizeOf = 16;
    /// <summary>KHO_VMALLOC_ALLOC.</summary>
    public const ushort FlagAlloc = 0x1;
    /// <summary>KHO_VMALLOC_HUGE_VMAP.</summary>
    public const ushort FlagHugeVmap = 0x2;
    private const int FirstOffset = 0, TotalPagesOffset = 8, FlagsOffset = 12, OrderOffset = 14;
    /// <summary>Reads a descriptor.</summary>
    public static KhoVmalloc ReadFrom(ReadOnlySpan<byte> s)
    {
        ushort order = BinaryPrimitives.ReadUInt16LittleEndian(s[OrderOffset..]);
        return new(BinaryPrimitives.ReadUInt64LittleEndian(s[FirstOffset..]), BinaryPrimitives.ReadUInt32LittleEndian(s[TotalPagesOffset..]),
            BinaryPrimitives.ReadUInt16LittleEndian(s[FlagsOffset..]), order);
    }
    /// <summary>Writes a descriptor.</summary>
    public readonly void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(s[OrderOffset..], Order);
        BinaryPrimitives.WriteUInt64LittleEndian(s[FirstOffset..], First);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TotalPagesOffset..], TotalPages);
        BinaryPrimitives.WriteUInt16LittleEndian(s[FlagsOffset..], Flags);
    }
}

/// <summary>struct kho_vmalloc_chunk layout (kho.md §4.5): u64 next @0, u64 phys[511] @8.</summary>
public static class KhoVmallocChunk
{
    /// <summary>Offset of next.</summary>
    public const int NextOffset = 0;
    /// <summary>Offset of phys[0].</summary>
    public const int PhysOffset = 8;
    /// <summary>Entries per chunk.</summary>
    public const int Entries = (PhysicalArena.PageSize - PhysOffset) / 8;
}

/// <summary>struct kho_kexec_metadata (kho.md §4.5), packed, 73 bytes.</summary>
public static class KhoKexecMetadata
{
    /// <summary>Size.</summary>
    public const int SizeOf = 73;
    /// <summary>Field offsets.</summary>
    public const int VersionOffset = 0, ReleaseOffset = 4, ReleaseLength = 65, KexecCountOffset = 69;
    /// <summary>Subtree name.</summary>
    public const string Name = "kexec-metadata";
}

/// <summary>Why an incoming handover was not accepted (kho.md §1.7); the boot then is a normal boot.</summary>
public enum KhoBootReject
{
    /// <summary>Accepted (is_kho_boot()).</summary>
    None,
    /// <summary>No KHO values were passed (cold boot, KHO disabled or kho-v1 not finalized).</summary>
    NoHandoff,
    /// <summary>(a) early_memremap of the FDT failed (outside memory).</summary>
    FdtUnmappable,
    /// <summary>(b) fdt_check_header failed.</summary>
    FdtBadHeader,
    /// <summary>(c) root compatible does not list this kernel's KHO_FDT_COMPATIBLE.</summary>
    CompatibleMismatch,
    /// <summary>(d) preserved-memory-map missing, not 8 bytes, or 0.</summary>
    BadMemoryMap,
    /// <summary>(e) the scratch array cannot be mapped.</summary>
    ScratchUnmappable,
    /// <summary>(f) a scratch entry could not be marked (model: outside memory or wrapping).</summary>
    ScratchMarkFailed,
    /// <summary>Step 3: the map could not be walked (model: pointer outside memory, unaligned, not a tree,
    /// invalid key, block end wraps). Model-defined: the kernel would fault or hang.</summary>
    WalkFailed,
    /// <summary>Step 3, M only: a block of order ≥ 19 would be reserved with the 32-bit size shift.</summary>
    OrderTooLargeForM,
}
