namespace LuoModel.Fdt;

/// <summary>
/// One strict-check finding: a stable rule name (<see cref="FdtStrictRules"/>), the absolute byte offset in the blob
/// of the offending header field, block or token, and a human-readable message.
/// </summary>
public readonly record struct FdtFinding(string Rule, int Offset, string Message);

/// <summary>Limits applied by <see cref="FdtStrictCheck"/> (fdt.md §12 items 26 and 27).</summary>
public sealed record FdtStrictOptions
{
    /// <summary>
    /// FDT_MAX_DEPTH of the kernel's unflatten_dt_nodes() (drivers/of/fdt.c): 64. Like the kernel, a node whose
    /// depth (root = 0) is at least <c>MaxDepth - 1</c> is out of range (the kernel skips it), so a tree may have
    /// at most <c>MaxDepth - 1</c> levels counting the root.
    /// </summary>
    public int MaxDepth { get; init; } = 64;

    /// <summary>
    /// Largest accepted <c>totalsize</c>. Default 2 MiB, the arm64 kernel's MAX_FDT_SIZE; KHO's root tree is one
    /// 4 KiB page.
    /// </summary>
    public long MaxTotalSize { get; init; } = 2 * 1024 * 1024;

    /// <summary>
    /// At most this many findings are collected; when the limit is hit, the walk stops and a last
    /// <see cref="FdtStrictRules.TooManyFindings"/> finding is added. Keeps the result small on hostile blobs.
    /// </summary>
    public int MaxFindings { get; init; } = 1000;

    /// <summary>The defaults above.</summary>
    public static FdtStrictOptions Default { get; } = new();
}

/// <summary>The stable rule names reported by <see cref="FdtStrictCheck"/> (fdt.md §12).</summary>
public static class FdtStrictRules
{
    /// <summary>fdt_check_full() failed; the message is the FDT_ERR name. Nothing else is checked.</summary>
    public const string Libfdt = "libfdt";
    /// <summary>§12 item 3 (strict): version below 16.</summary>
    public const string OldVersion = "old-version";
    /// <summary>§12 item 27: totalsize above <see cref="FdtStrictOptions.MaxTotalSize"/>.</summary>
    public const string TooLarge = "too-large";
    /// <summary>§12 item 10: off_mem_rsvmap not a multiple of 8.</summary>
    public const string MisalignedRsvmap = "misaligned-rsvmap";
    /// <summary>§12 item 10: off_dt_struct not a multiple of 4.</summary>
    public const string MisalignedStruct = "misaligned-struct";
    /// <summary>§12 item 11: two of header, rsvmap (with terminator), structure block, strings block overlap.</summary>
    public const string BlockOverlap = "block-overlap";
    /// <summary>§12 item 19: no root node (the structure block ends before any BEGIN_NODE).</summary>
    public const string NoRoot = "no-root";
    /// <summary>§12 item 19: FDT_NOP or FDT_PROP before the root's BEGIN_NODE.</summary>
    public const string DataBeforeRoot = "data-before-root";
    /// <summary>§12 items 16/18: any token other than FDT_END after the root's END_NODE.</summary>
    public const string DataAfterRoot = "data-after-root";
    /// <summary>§12 item 20: bytes after FDT_END inside size_dt_struct.</summary>
    public const string GarbageAfterEnd = "garbage-after-end";
    /// <summary>§12 item 23: a property after the node's first subnode.</summary>
    public const string PropAfterSubnode = "prop-after-subnode";
    /// <summary>§12 item 24: two properties of one node with the same name.</summary>
    public const string DuplicateProperty = "duplicate-property";
    /// <summary>§12 item 24: two sibling nodes with the same full name (name@unit).</summary>
    public const string DuplicateNode = "duplicate-node";
    /// <summary>§12 item 25, fdt.md §6: node name not of the form <c>name[@unit]</c> with legal characters.</summary>
    public const string BadNodeName = "bad-node-name";
    /// <summary>§12 item 25, fdt.md §6: property name empty, too long, or with an illegal character.</summary>
    public const string BadPropertyName = "bad-property-name";
    /// <summary>§12 item 26: nesting deeper than <see cref="FdtStrictOptions.MaxDepth"/> allows (reported once).</summary>
    public const string TooDeep = "too-deep";
    /// <summary><see cref="FdtStrictOptions.MaxFindings"/> reached; the check stopped early.</summary>
    public const string TooManyFindings = "too-many-findings";
}
