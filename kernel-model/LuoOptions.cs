namespace LuoModel.Kernel;

/// <summary>Serialization ABI handed to the next kernel (luo.md §5, §5.8).</summary>
public enum LuoAbi
{
    /// <summary>N: raw luo_ser root "luo-v5" with block sets.</summary>
    LuoV5,
    /// <summary>FDT era: "luo-v1" root FDT, fixed arrays (819 sessions, 128 files), kho_finalize at reboot.</summary>
    FdtV1,
}

/// <summary>How double preservation of one file is prevented (luo.md §3.6, §7.5).</summary>
public enum DoublePreserveCheck
{
    /// <summary>Old mainline: no check (double preservation accepted).</summary>
    None,
    /// <summary>N: preserved_registry keyed by get_id → EBUSY.</summary>
    Registry,
}

/// <summary>memfd handler generation (luo.md §6).</summary>
public enum MemfdVersion
{
    /// <summary>"memfd-v1": 40-byte record, no seals, flags from the folio bits, no get_id, no EFBIG check.</summary>
    V1,
    /// <summary>"memfd-v2" (N).</summary>
    V2,
}

/// <summary>Which size the GET_NAME dispatch-table entry declares (luo.md §3.9, §7.6).</summary>
public enum GetNameTableSize
{
    /// <summary>N at 637315cb: the retrieve_fd struct, min_size = ksize = 16.</summary>
    Size16 = 16,
    /// <summary>The presumable fix: the get_name struct, 72/72.</summary>
    Size72 = 72,
}

/// <summary>Which GET_NAME session ioctl the kernel has (luo.md §7.6, §7.9 get_name).</summary>
public enum GetNameVariant
{
    /// <summary>torvalds uAPI @ 16cec0d2: no fourth session command; nr 0x43 is out of range → EINVAL.</summary>
    Absent,
    /// <summary>Seed proposal (seed 000, linux-mm @ 62fbaacb): 68-byte struct, name at offset 4, no reserved field.</summary>
    Seed,
    /// <summary>N: 72-byte struct, reserved u32 at 4 (non-zero → EINVAL), name at 8.</summary>
    Merged,
}

/// <summary>
/// LUO behaviour switches (luo.md §7.9), including the whole-uAPI (rfc, v4) and session-inode (LUOS) variants.
/// Defaults are mainline N; every switch is a runtime value (docs/variants.md lists them and their presets).
/// </summary>
public sealed record LuoOptions
{
    /// <summary>abi = {luo_v5, fdt_v1}.</summary>
    public LuoAbi Abi { get; init; } = LuoAbi.LuoV5;
    /// <summary>name_check: empty / unterminated names → EINVAL (N); off: accepted, truncated to 63 bytes.</summary>
    public bool NameCheck { get; init; } = true;
    /// <summary>direction_check: PRESERVE_FD only on OUT, RETRIEVE_FD/FINISH only on IN-OPEN sessions (N).</summary>
    public bool DirectionCheck { get; init; } = true;
    /// <summary>GET_NAME dispatch size quirk (N: 16).</summary>
    public GetNameTableSize GetNameTableSize { get; init; } = GetNameTableSize.Size16;
    /// <summary>get_name = {absent, seed, merged (N)} (luo.md §7.6).</summary>
    public GetNameVariant GetName { get; init; } = GetNameVariant.Merged;
    /// <summary>registration_quiesce (FDT era 7f790dd2/b2135d1c, luo.md §2.4): file-handler registration and
    /// unregistration fail EBUSY while any incoming or outgoing session exists. N: off (allowed at any time).</summary>
    public bool RegistrationQuiesce { get; init; }
    /// <summary>flb_get_takes_ref (luo.md §2.5): liveupdate_flb_get_incoming() adds a reference that the caller
    /// must put (N, on); off = cab056f2: plain counters, get_incoming takes none, a put at 0 wraps without warning.</summary>
    public bool FlbGetTakesRef { get; init; } = true;
    /// <summary>double_preserve = {none, registry}.</summary>
    public DoublePreserveCheck DoublePreserve { get; init; } = DoublePreserveCheck.Registry;
    /// <summary>retrieve_sticky: a failed RETRIEVE_FD returns the same errno again (N); off: retried.</summary>
    public bool RetrieveSticky { get; init; } = true;
    /// <summary>unfreeze_zeroes_data: LUO zeroes serialized_data after unfreeze (old b2135d1c); N keeps it.</summary>
    public bool UnfreezeZeroesData { get; init; }
    /// <summary>memfd = {v1, v2}.</summary>
    public MemfdVersion MemfdVersion { get; init; } = MemfdVersion.V2;
    /// <summary>Trim the empty trailing session block left by a CREATE_SESSION EEXIST (luo.md §3.4 step 6,
    /// §9 q3). Default false keeps the N quirk (and the resulting panic at the next boot).</summary>
    public bool TrimEmptySessionBlock { get; init; }
    /// <summary>session_inode = {anon (N), magic_singleton, magic_per_session} (luo.md §7.7, seed 002): what
    /// fstat, fstatfs, fchmod and readlink of /proc/PID/fd show for session fds (<see cref="Kernel.Fstat"/>).</summary>
    public SessionInodeKind SessionInode { get; init; } = SessionInodeKind.Anon;
    /// <summary>uapi = {simplified (N), v4, rfc} (luo.md §7.2–§7.4): the command set and state machine of
    /// /dev/liveupdate (LuoUapiV4.cs, LuoUapiRfc.cs).</summary>
    public LuoUapi Uapi { get; init; } = LuoUapi.Simplified;
    /// <summary>TEST-ONLY deliberately wrong behaviours (<see cref="LuoMutant"/>); always None outside
    /// property-tests/.</summary>
    public LuoMutant Mutants { get; init; }
    /// <summary>limits = {fixed, blocks}: derived from <see cref="Abi"/>.</summary>
    public bool FixedLimits => Abi == LuoAbi.FdtV1;
    /// <summary>FDT era: maximum sessions (fixed array).</summary>
    public const int FdtMaxSessions = 819;
    /// <summary>FDT era: maximum files per session (fixed array).</summary>
    public const int FdtMaxFiles = 128;
}
