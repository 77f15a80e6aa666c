using System.Globalization;
using System.Reflection;
using LuoModel.Kernel;

namespace LuoModel.Serve;

/// <summary>How session fds answer fstatfs (luo.md §7.7; mirrors <see cref="SessionInodeKind"/>, same order).</summary>
public enum SessionInodeVariant
{
    /// <summary>Mainline: anonymous inode (f_type 0x09041934).</summary>
    Anon,
    /// <summary>Pseudo-fs v8: one inode, f_type 0x4c554f53.</summary>
    MagicSingleton,
    /// <summary>Pseudo-fs v9: per-session inodes, f_type 0x4c554f53.</summary>
    MagicPerSession,
}

/// <summary>
/// SET_VARIANT (selftest-shim.md §7, §8): "name=value" switches for the next boot. Every public settable
/// property of <see cref="LuoOptions"/> is a switch, found by reflection (so switches added to the model later
/// work without changes here); names match case-insensitively with or without underscores (name_check,
/// NameCheck), values are on/off/true/false/yes/no/1/0 for booleans and names or numbers for enums (fdt_v1,
/// FdtV1, 16). Besides: <c>liveupdate=VALUE|absent</c>, <c>kho=VALUE|absent</c> (kernel command line),
/// <c>defaults</c>; <c>session_inode=anon|magic_singleton|magic_per_session</c> is the LuoOptions switch.
/// </summary>
public sealed class VariantSettings
{
    private readonly KernelConfig _base;
    private readonly Dictionary<PropertyInfo, object> _luo = [];
    private string? _liveupdate;
    private string? _kho;
    private bool _liveupdateSet, _khoSet;

    /// <summary>Starts from <paramref name="baseConfig"/>.</summary>
    public VariantSettings(KernelConfig baseConfig)
    {
        ArgumentNullException.ThrowIfNull(baseConfig);
        _base = baseConfig;
    }

    /// <summary>The fstatfs variant of session fds (the <see cref="LuoOptions.SessionInode"/> switch).</summary>
    public SessionInodeVariant SessionInode => (SessionInodeVariant)(int)Build().Luo.SessionInode;

    /// <summary>Every LuoOptions switch name (snake_case).</summary>
    public static IEnumerable<string> SwitchNames =>
        Switches().Select(p => Snake(p.Name)).Concat(["liveupdate", "kho"]);

    private static IEnumerable<PropertyInfo> Switches() =>
        typeof(LuoOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.SetMethod is { IsPublic: true } && (p.PropertyType == typeof(bool) || p.PropertyType.IsEnum || p.PropertyType == typeof(int)));

    /// <summary>The configuration of the next boot.</summary>
    public KernelConfig Build()
    {
        var opts = _base.Luo with { };
        foreach (var (prop, value) in _luo) prop.SetValue(opts, value);
        var cfg = _base with { Luo = opts };
        if (_liveupdateSet) cfg = cfg with { Liveupdate = _liveupdate };
        if (_khoSet) cfg = cfg with { KhoParam = _kho };
        return cfg;
    }

    /// <summary>Applies one "name=value" (or "defaults"); null on success, else the reason.</summary>
    public string? Apply(string setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        string s = setting.Trim();
        if (s.Equals("defaults", StringComparison.OrdinalIgnoreCase))
        {
            _luo.Clear();
            _liveupdateSet = _khoSet = false;
            return null;
        }
        int eq = s.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) return $"expected name=value, got \"{s}\"";
        string name = s[..eq].Trim(), value = s[(eq + 1)..].Trim();
        string key = Normalize(name);
        switch (key)
        {
            case "LIVEUPDATE":
                _liveupdateSet = true;
                _liveupdate = value.Equals("absent", StringComparison.OrdinalIgnoreCase) ? null : value;
                return null;
            case "KHO":
                _khoSet = true;
                _kho = value.Equals("absent", StringComparison.OrdinalIgnoreCase) ? null : value;
                return null;
        }
        var prop = Switches().FirstOrDefault(p => Normalize(p.Name) == key);
        if (prop is null)
        {
            // spec spellings such as "memfd" for MemfdVersion: a unique prefix
            var candidates = Switches().Where(p => Normalize(p.Name).StartsWith(key, StringComparison.Ordinal)).Take(2).ToList();
            if (candidates.Count == 1) prop = candidates[0];
        }
        if (prop is null) return $"unknown switch \"{name}\" (known: {string.Join(", ", SwitchNames)})";
        object? parsed = null;
        bool ok = prop.PropertyType == typeof(bool) ? TryBool(value, out parsed)
            : prop.PropertyType.IsEnum ? TryEnum(prop.PropertyType, value, out parsed)
            : TryInt(value, out parsed);
        if (!ok) return $"{Snake(prop.Name)}: invalid value \"{value}\"";
        _luo[prop] = parsed!;
        return null;
    }

    /// <summary>"name=value" lines of every switch as the next boot will see it.</summary>
    public string Describe()
    {
        var cfg = Build();
        var sb = new System.Text.StringBuilder();
        foreach (var p in Switches())
            sb.Append(CultureInfo.InvariantCulture, $"{Snake(p.Name)}={Format(p.GetValue(cfg.Luo))}\n");
        sb.Append(CultureInfo.InvariantCulture, $"liveupdate={cfg.Liveupdate ?? "absent"}\n");
        sb.Append(CultureInfo.InvariantCulture, $"kho={cfg.KhoParam ?? "absent"}\n");
        return sb.ToString();
    }

    private static string Format(object? v) => v switch
    {
        bool b => b ? "on" : "off",
        Enum e => Snake(e.ToString()),
        null => "",
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
    };

    private static string Normalize(string name) => name.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToUpperInvariant();

    /// <summary>PascalCase → snake_case ("FdtV1" → "fdt_v1").</summary>
    public static string Snake(string pascal)
    {
        ArgumentNullException.ThrowIfNull(pascal);
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < pascal.Length; i++)
        {
            char ch = pascal[i];
            if (char.IsUpper(ch) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(ch));
        }
        return sb.ToString();
    }

    private static bool TryBool(string v, out object? result)
    {
        result = v.ToUpperInvariant() switch
        {
            "ON" or "TRUE" or "YES" or "1" => true,
            "OFF" or "FALSE" or "NO" or "0" => false,
            _ => null,
        };
        return result is not null;
    }

    private static bool TryEnum(Type t, string v, out object? result)
    {
        result = null;
        string key = Normalize(v);
        foreach (string n in Enum.GetNames(t))
            if (Normalize(n) == key) { result = Enum.Parse(t, n); return true; }
        if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long num))
        {
            object candidate = Enum.ToObject(t, num);
            if (Enum.IsDefined(t, candidate)) { result = candidate; return true; }
        }
        return false;
    }

    private static bool TryInt(string v, out object? result)
    {
        result = null;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)) return false;
        result = n;
        return true;
    }
}
