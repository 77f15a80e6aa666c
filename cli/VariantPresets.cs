using LuoModel.Kernel;
using LuoModel.Serve;

namespace LuoModel.Cli;

/// <summary>One named variant: the luo.md §7 variant or seed it models and the switch settings it makes.</summary>
/// <param name="Name">Name given to <c>--variant</c>.</param>
/// <param name="Models">What it models (seed or spec section).</param>
/// <param name="Settings">"switch=value" settings (<see cref="VariantSettings"/> syntax).</param>
internal sealed record VariantPreset(string Name, string Models, IReadOnlyList<string> Settings);

/// <summary>
/// Named variants for <c>luo run</c> and <c>luo diff</c> (issue 7): presets over the <see cref="LuoOptions"/> /
/// <see cref="KernelConfig"/> switches of luo.md §7.9. They compose: <c>--variant fdt-v1 --variant
/// no-name-check</c> applies both; two presets that set one switch to different values are rejected. A raw
/// "switch=value" (as <c>luo selftest --variant</c> takes) is accepted too.
/// </summary>
internal static class VariantPresets
{
    /// <summary>Every preset, mainline first.</summary>
    public static IReadOnlyList<VariantPreset> All { get; } =
    [
        new("mainline", "N: the merged LUO at 637315cb (luo.md §1); no switch changed", []),
        new("fdt-v1", "FDT-era ABI: luo-v1 root FDT, fixed arrays of 819 sessions / 128 files, kho_finalize (luo.md §5.8, §7.4)", ["abi=fdt_v1"]),
        new("v4", "v4 series (luo.md §7.3, seed 004): GET_STATE / SET_EVENT global state machine, session GET_STATE / SET_EVENT / UNPRESERVE_FD / RESTORE_FD, 56-byte names; FDT handover", ["uapi=v4", "abi=fdt_v1"]),
        new("rfc", "RFC uAPI (luo.md §7.2): device-only FD_PRESERVE / FD_UNPRESERVE / FD_RESTORE, kernel tokens, EVENT_* ioctls, no sessions; FDT handover", ["uapi=rfc", "abi=fdt_v1"]),
        new("no-name-check", "before the name-validation series: empty and unterminated names accepted (luo.md §7.5)", ["name_check=off"]),
        new("no-direction-check", "no session-direction checks on PRESERVE_FD / RETRIEVE_FD / FINISH (luo.md §7.5)", ["direction_check=off"]),
        new("no-double-preserve", "early mainline: no preserved-file registry, double preservation accepted (luo.md §3.6, §7.5)", ["double_preserve=none"]),
        new("retrieve-retry", "a failed RETRIEVE_FD may be retried instead of returning the same errno (luo.md §7.9)", ["retrieve_sticky=off"]),
        new("memfd-v1", "memfd-v1 handler: 40-byte record, no seals, no get_id (luo.md §6)", ["memfd_version=v1"]),
        new("get-name-absent", "torvalds uAPI @ 16cec0d2: no GET_NAME, session nr 0x43 out of range → EINVAL (luo.md §7.6)", ["get_name=absent"]),
        new("get-name-seed", "seed 000 (linux-mm @ 62fbaacb): GET_NAME with a 68-byte struct, name at offset 4, no reserved field (luo.md §7.6)", ["get_name=seed"]),
        new("get-name-table-72", "the GET_NAME dispatch entry declares the 72-byte struct (the presumable fix, luo.md §3.9)", ["get_name_table_size=72"]),
        new("unfreeze-zeroes", "LUO zeroes serialized_data after unfreeze (old b2135d1c, luo.md §7.9)", ["unfreeze_zeroes_data=on"]),
        new("trim-empty-block", "the empty session block left by a CREATE_SESSION EEXIST is trimmed (luo.md §9 q3)", ["trim_empty_session_block=on"]),
        new("registration-quiesce", "FDT era 7f790dd2: handler (un)registration fails EBUSY while any session exists (luo.md §2.4)", ["registration_quiesce=on"]),
        new("flb-get-no-ref", "cab056f2: liveupdate_flb_get_incoming() takes no reference, plain counters (luo.md §2.5)", ["flb_get_takes_ref=off"]),
        new("luos-singleton", "seed 002 (LUOS v8): session files share one inode of the luo_session pseudo-fs; f_type 0x4c554f53, equal st_ino, fchmod EOPNOTSUPP, link \"luo_session:NAME\" (luo.md §7.7)", ["session_inode=magic_singleton"]),
        new("luos-per-session", "seed 002 review fold (LUOS v9): an inode per session file, boot-wide monotonic 64-bit st_ino from 1, mode 0700, immutable (fchmod EPERM), link \"luo_session:[NAME]\" (luo.md §7.7)", ["session_inode=magic_per_session"]),
        new("luo-disabled", "liveupdate= absent from the command line: no /dev/liveupdate (scenarios.md A3)", ["liveupdate=absent"]),
    ];

    /// <summary>The preset with this name (case-insensitive), or null.</summary>
    public static VariantPreset? Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Builds the configuration for <paramref name="variants"/> (names or switch=value) applied in order
    /// over mainline; null with <paramref name="error"/> set for an unknown name, a bad setting or a conflict.</summary>
    public static KernelConfig? Build(IEnumerable<string> variants, out string? error)
    {
        ArgumentNullException.ThrowIfNull(variants);
        var settings = new VariantSettings(new KernelConfig());
        var chosen = new Dictionary<string, (string Value, string From)>(StringComparer.OrdinalIgnoreCase);
        foreach (string v in variants)
        {
            var preset = Find(v);
            IReadOnlyList<string> list;
            if (preset is not null) list = preset.Settings;
            else if (v.Contains('=', StringComparison.Ordinal)) list = [v];
            else
            {
                error = $"unknown variant \"{v}\" (known: {string.Join(", ", All.Select(p => p.Name))}, or switch=value)";
                return null;
            }
            foreach (string s in list)
            {
                int eq = s.IndexOf('=', StringComparison.Ordinal);
                string key = s[..eq].Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
                string value = s[(eq + 1)..];
                if (chosen.TryGetValue(key, out var prior) && !string.Equals(prior.Value, value, StringComparison.OrdinalIgnoreCase))
                {
                    error = $"variants \"{prior.From}\" and \"{v}\" conflict on {s[..eq]}";
                    return null;
                }
                chosen[key] = (value, v);
                string? reason = settings.Apply(s);
                if (reason is not null)
                {
                    error = $"variant \"{v}\": {reason}";
                    return null;
                }
            }
        }
        error = null;
        return settings.Build();
    }
}
