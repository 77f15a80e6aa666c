using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>What the next kernel would do with a defect found in the handover (luo.md §5.7, §6.5).</summary>
public enum HandoverProblemKind
{
    /// <summary>Early boot fails: luo_restore_fail, kernel panic.</summary>
    BootPanic,
    /// <summary>The first open of /dev/liveupdate deserializes and fails: every open returns EIO.</summary>
    FirstOpenFails,
    /// <summary>RETRIEVE_FD of that file fails (or its finish cannot release it).</summary>
    RetrieveFails,
    /// <summary>Not an error for the kernel (a warning, or a value a correct writer never produces).</summary>
    Note,
}

/// <summary>One defect: its consequence, where it is and what is wrong.</summary>
public sealed record HandoverProblem(HandoverProblemKind Kind, string Where, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Kind}: {Where}: {Message}";
}

/// <summary>The LUO root: luo_ser (luo-v5) or the values of the luo-v1 root FDT.</summary>
/// <param name="Compatible">"luo-v5" / "luo-v1" or what was found.</param>
/// <param name="LiveupdateNum">liveupdate_num / liveupdate-number.</param>
/// <param name="SessionsPa">sessions_pa (luo-v5) or luo-session-header (luo-v1: the session area).</param>
/// <param name="FlbsPa">flbs_pa / luo-flb-header.</param>
public sealed record LuoRootInfo(string Compatible, ulong LiveupdateNum, ulong SessionsPa, ulong FlbsPa);

/// <summary>One block of a chain: its address and header.</summary>
public sealed record BlockInfo(ulong Phys, ulong Next, ulong Count, int Capacity);

/// <summary>One folio entry of a memfd record.</summary>
public sealed record FolioEntryInfo(int Index, ulong Pfn, uint Flags, ulong PageIndex, bool Preserved)
{
    /// <summary>Physical address of the folio.</summary>
    public ulong Phys => Pfn << PhysicalArena.PageShift;
}

/// <summary>A memfd_luo_ser record with its folio array.</summary>
/// <param name="Phys">Address of the record.</param>
/// <param name="Version">"memfd-v2" (48 bytes) or "memfd-v1" (40 bytes).</param>
/// <param name="Pos">pos.</param>
/// <param name="Size">size.</param>
/// <param name="Seals">seals (v2).</param>
/// <param name="Flags">flags (v2).</param>
/// <param name="NrFolios">nr_folios.</param>
/// <param name="Folios">The kho_vmalloc descriptor of the folio array.</param>
/// <param name="Chunks">vmalloc chunk pages in chain order.</param>
/// <param name="ArrayPages">Pages of the folio array listed by the chunks, in order.</param>
/// <param name="Entries">Folio entries decoded (at most nr_folios).</param>
public sealed record MemfdInfo(ulong Phys, string Version, ulong Pos, ulong Size, uint Seals, uint Flags, ulong NrFolios, KhoVmalloc Folios,
    IReadOnlyList<ulong> Chunks, IReadOnlyList<ulong> ArrayPages, IReadOnlyList<FolioEntryInfo> Entries);

/// <summary>One luo_file_ser entry.</summary>
public sealed record FileEntryInfo(int Index, ulong Phys, string Compatible, ulong Data, ulong Token, MemfdInfo? Memfd);

/// <summary>One luo_session_ser entry with its files.</summary>
/// <param name="Index">Position in chain order.</param>
/// <param name="Phys">Address of the entry.</param>
/// <param name="Name">Name up to its NUL (or all 64 bytes).</param>
/// <param name="NameTerminated">False when the 64 bytes hold no NUL (the kernel cuts to 63).</param>
/// <param name="FilesPa">file_set_ser.files.</param>
/// <param name="FileCount">file_set_ser.count.</param>
/// <param name="FileBlocks">File block chain (luo-v5).</param>
/// <param name="Files">File entries in chain order.</param>
public sealed record SessionEntryInfo(int Index, ulong Phys, string Name, bool NameTerminated, ulong FilesPa, ulong FileCount,
    IReadOnlyList<BlockInfo> FileBlocks, IReadOnlyList<FileEntryInfo> Files);

/// <summary>One luo_flb_ser entry.</summary>
public sealed record FlbEntryInfo(int Index, string Name, ulong Data, ulong Count);

/// <summary>The FLB page.</summary>
public sealed record FlbAreaInfo(ulong Phys, ulong PageCount, ulong Count, IReadOnlyList<FlbEntryInfo> Entries);

/// <summary>
/// The LUO side of a handover as the next kernel would read it (luo.md §5): the "LUO" KHO subtree, the root,
/// the session chain with every session's files, memfd records with their folios, the FLB page, and every
/// defect found. Produced by <see cref="HandoverDecoder"/>.
/// </summary>
public sealed class LuoHandover
{
    internal List<HandoverProblem> ProblemList { get; } = [];
    internal List<BlockInfo> SessionBlockList { get; } = [];
    internal List<SessionEntryInfo> SessionList { get; } = [];

    /// <summary>True when the KHO root has a "LUO" node.</summary>
    public bool Present { get; internal set; }
    /// <summary>"luo-v5" (raw luo_ser) or "luo-v1" (FDT era), as recognised from the blob.</summary>
    public string Abi { get; internal set; } = "";
    /// <summary>preserved-data (kho-v1: fdt) of the "LUO" node.</summary>
    public ulong BlobPhys { get; internal set; }
    /// <summary>blob-size (null for kho-v1, which has none).</summary>
    public ulong? BlobSize { get; internal set; }
    /// <summary>The root values (null when unreadable).</summary>
    public LuoRootInfo? Root { get; internal set; }
    /// <summary>luo-v1 only: the LUO FDT as DTS text.</summary>
    public string? FdtDts { get; internal set; }
    /// <summary>luo-v1 only: the session count at the start of the session area.</summary>
    public ulong? V1SessionCount { get; internal set; }
    /// <summary>Session blocks in chain order (luo-v5).</summary>
    public IReadOnlyList<BlockInfo> SessionBlocks => SessionBlockList;
    /// <summary>Sessions in chain order.</summary>
    public IReadOnlyList<SessionEntryInfo> Sessions => SessionList;
    /// <summary>The FLB page (null when absent or unreadable).</summary>
    public FlbAreaInfo? Flb { get; internal set; }
    /// <summary>Defects, in the order they were found.</summary>
    public IReadOnlyList<HandoverProblem> Problems => ProblemList;
    /// <summary>True when the next kernel would boot and its first open of /dev/liveupdate would succeed.</summary>
    public bool Accepted => !ProblemList.Any(p => p.Kind is HandoverProblemKind.BootPanic or HandoverProblemKind.FirstOpenFails);

    internal void Problem(HandoverProblemKind kind, string where, string message) => ProblemList.Add(new HandoverProblem(kind, where, message));
}
