using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>
/// Settings of one boot: command-line parameters, LUO and KHO options, the shared fault injector and process
/// defaults. Kexec passes the same record to the next kernel unless another one is given.
/// </summary>
public sealed record KernelConfig
{
    /// <summary>Value of <c>liveupdate=</c> on the command line; null = parameter absent (LUO off). The
    /// default "on" is the upstream test command line (scenarios.md §1.4).</summary>
    public string? Liveupdate { get; init; } = "on";

    /// <summary>Value of <c>kho=</c>; null = absent, then <see cref="KhoEnableDefault"/> decides.</summary>
    public string? KhoParam { get; init; }

    /// <summary>CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT (set in the upstream test config).</summary>
    public bool KhoEnableDefault { get; init; } = true;

    /// <summary>LUO behaviour switches (luo.md §7.9).</summary>
    public LuoOptions Luo { get; init; } = new();

    /// <summary>KHO settings; <see cref="KhoOptions.Enabled"/> is overridden by the kho= parameter. When null,
    /// the ABI picks one: kho-v1 (with finalize) for <see cref="LuoAbi.FdtV1"/>, N otherwise.</summary>
    public KhoOptions? Kho { get; init; }

    /// <summary>Shared fault-injection hook (one instance across kexecs unless replaced).</summary>
    public FaultInjector Faults { get; init; } = new();

    /// <summary>Model DRAM size (sparse arena).</summary>
    public ulong DramBytes { get; init; } = 4UL << 30;

    /// <summary>Default RLIMIT_NOFILE soft limit of new processes (Linux INR_OPEN_CUR).</summary>
    public ulong NofileSoft { get; init; } = 1024;

    /// <summary>Default RLIMIT_NOFILE hard limit (model choice: systemd's 524288).</summary>
    public ulong NofileHard { get; init; } = 524288;

    /// <summary>fs.nr_open: setrlimit above it fails EPERM.</summary>
    public ulong NrOpen { get; init; } = 1048576;

    /// <summary>Register <see cref="TestFileHandler"/> at late init (like CONFIG_LIVEUPDATE_TEST builds).</summary>
    public bool RegisterTestHandler { get; init; } = true;

    /// <summary>kstrtobool() (lib/kstrtox.c): first character e/E/y/Y/t/T/1 → true, d/D/n/N/f/F/0 → false,
    /// "on"/"of…" by the second character (case-insensitive); anything else (and null/empty) → null (EINVAL).</summary>
    public static bool? KstrToBool(string? s)
    {
        if (string.IsNullOrEmpty(s)) return null;
        switch (s[0])
        {
            case 'e' or 'E' or 'y' or 'Y' or 't' or 'T' or '1': return true;
            case 'd' or 'D' or 'n' or 'N' or 'f' or 'F' or '0': return false;
            case 'o' or 'O':
                if (s.Length < 2) return null;
                return s[1] switch { 'n' or 'N' => true, 'f' or 'F' => false, _ => null };
            default: return null;
        }
    }

    /// <summary>Whether KHO is enabled for this boot (kho= wins when valid, else the config default).</summary>
    public bool KhoEnabled => KstrToBool(KhoParam) ?? KhoEnableDefault;

    /// <summary>Whether liveupdate= asked for LUO (an invalid value leaves it off).</summary>
    public bool LiveupdateRequested => KstrToBool(Liveupdate) ?? false;

    /// <summary>The effective KHO options for this boot.</summary>
    public KhoOptions EffectiveKho => (Kho ?? (Luo.Abi == LuoAbi.FdtV1 ? new KhoOptions { Variant = KhoVariant.KhoV1 } : new KhoOptions()))
        with { Enabled = KhoEnabled };
}
