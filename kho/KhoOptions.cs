namespace LuoModel.Kho;

/// <summary>Which KHO implementation the model follows (kho.md §0, §6).</summary>
public enum KhoVariant
{
    /// <summary>Newest development tree "N" (soleen e7bb954d): radix tree, 64-bit reserve shift,
    /// add_subtree cleans a half-built node and returns -ENOMEM.</summary>
    N,
    /// <summary>Mainline "M" (torvalds 40735a68): radix tree, 32-bit reserve-size shift (orders ≥ 19 are
    /// rejected at the incoming walk, kho.md §1.7 step 3), add_subtree returns the raw libfdt code and keeps
    /// the partial node (§2.11).</summary>
    M,
    /// <summary>"kho-v1" of the 48a1b232 era: per-order xarray of page-size bitmaps serialized into a chunk
    /// list at kho_finalize(), kho_abort(), -EBUSY while finalized (kho.md §1.5, §3.3).</summary>
    KhoV1,
}

/// <summary>Runtime settings of one kernel's KHO (boot parameters and config options).</summary>
public sealed record KhoOptions
{
    /// <summary>The modelled implementation.</summary>
    public KhoVariant Variant { get; init; } = KhoVariant.N;

    /// <summary>KHO_FDT_COMPATIBLE; null = the variant's default ("kho-v4" for N, "kho-v3" for M, "kho-v1").
    /// The N value is an inference (kho.md §7 open question 1), hence a setting.</summary>
    public string? Compatible { get; init; }

    /// <summary>kho= boot parameter (kho_enable). When false the outgoing tree and FDT do not exist (§2).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>CONFIG_KEXEC_HANDOVER_DEBUG: preserve calls reject ranges overlapping scratch (§2 debug check).</summary>
    public bool DebugScratchCheck { get; init; }

    /// <summary>utsname release written into kexec-metadata (kho.md §4.5).</summary>
    public string UtsRelease { get; init; } = "6.19.0-luomodel";

    /// <summary>Cold-boot scratch sizes in bytes (lowmem, global, per node); rounded up to the variant's
    /// alignment (kho.md §1.2). The model has one memory node, so three regions.</summary>
    public ulong ScratchLowBytes { get; init; } = 4UL << 20;

    /// <summary>Global scratch size, see <see cref="ScratchLowBytes"/>.</summary>
    public ulong ScratchGlobalBytes { get; init; } = 8UL << 20;

    /// <summary>Per-node scratch size, see <see cref="ScratchLowBytes"/>.</summary>
    public ulong ScratchPerNodeBytes { get; init; } = 8UL << 20;

    /// <summary>Effective compatible string.</summary>
    public string EffectiveCompatible => Compatible ?? Variant switch
    {
        KhoVariant.N => "kho-v4",
        KhoVariant.M => "kho-v3",
        _ => "kho-v1",
    };

    /// <summary>Whether subtree nodes carry blob-size (kho-v3 and later, §4.1).</summary>
    public bool HasBlobSize => Variant != KhoVariant.KhoV1;

    /// <summary>Scratch alignment: 4 MiB in N (SCRATCH_ALIGNMENT_BYTES), 2 MiB pageblock otherwise (§1.2).</summary>
    public ulong ScratchAlignment => Variant == KhoVariant.N ? 4UL << 20 : 2UL << 20;
}
