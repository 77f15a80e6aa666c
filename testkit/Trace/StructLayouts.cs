using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using LuoModel.Kernel;

namespace LuoModel.Testkit.Trace;

/// <summary>Kinds of a named struct field in a trace literal.</summary>
internal enum FieldKind { U32, S32, U64, Name }

/// <summary>One named field of an ioctl struct (offsets from include/uapi/linux/liveupdate.h, luo.md §3.3).</summary>
internal readonly record struct Field(string Name, int Offset, int Size, FieldKind Kind);

/// <summary>
/// Struct literals of trace lines (docs/trace-format.md §3): <c>{size=72, fd=4, name="a"}</c> for the LUO
/// ioctl structs, with <c>len=N</c> for a length other than the struct's and <c>@OFF=HEX</c> for bytes outside
/// the named fields; <c>hex:…</c> for anything else.
/// </summary>
internal static class StructLayouts
{
    private static readonly Field[] Session = [new("size", 0, 4, FieldKind.U32), new("fd", 4, 4, FieldKind.S32), new("name", 8, 64, FieldKind.Name)];
    private static readonly Field[] FdArgs = [new("size", 0, 4, FieldKind.U32), new("fd", 4, 4, FieldKind.S32), new("token", 8, 8, FieldKind.U64)];
    private static readonly Field[] FinishArgs = [new("size", 0, 4, FieldKind.U32), new("reserved", 4, 4, FieldKind.U32)];
    private static readonly Field[] GetNameArgs = [new("size", 0, 4, FieldKind.U32), new("reserved", 4, 4, FieldKind.U32), new("name", 8, 64, FieldKind.Name)];

    /// <summary>The layout and natural size of a command's struct, or null.</summary>
    public static (Field[] Fields, int Size)? For(uint cmd) => cmd switch
    {
        LiveupdateUapi.CreateSession or LiveupdateUapi.RetrieveSession => (Session, 72),
        LiveupdateUapi.PreserveFd or LiveupdateUapi.RetrieveFd => (FdArgs, 16),
        LiveupdateUapi.Finish => (FinishArgs, 8),
        LiveupdateUapi.GetName => (GetNameArgs, 72),
        _ => null,
    };

    /// <summary>Formats <paramref name="bytes"/> as a literal for <paramref name="cmd"/>.</summary>
    public static string Format(uint cmd, ReadOnlySpan<byte> bytes)
    {
        if (For(cmd) is not { } layout || bytes.Length == 0) return TraceText.Hex(bytes);
        var parts = new List<string>();
        var covered = new bool[bytes.Length];
        foreach (var f in layout.Fields)
        {
            if (f.Offset + f.Size > bytes.Length) continue;
            var v = bytes.Slice(f.Offset, f.Size);
            string text;
            switch (f.Kind)
            {
                case FieldKind.U32: text = BinaryPrimitives.ReadUInt32LittleEndian(v).ToString(CultureInfo.InvariantCulture); break;
                case FieldKind.S32: text = BinaryPrimitives.ReadInt32LittleEndian(v).ToString(CultureInfo.InvariantCulture); break;
                case FieldKind.U64: text = "0x" + BinaryPrimitives.ReadUInt64LittleEndian(v).ToString("x", CultureInfo.InvariantCulture); break;
                default:
                    int end = v.Length;
                    while (end > 0 && v[end - 1] == 0) end--;
                    text = TraceText.Quote(v[..end]);
                    break;
            }
            bool zero = !v.ContainsAnyExcept((byte)0);
            if (!zero || f.Name == "size") parts.Add($"{f.Name}={text}");
            for (int i = 0; i < f.Size; i++) covered[f.Offset + i] = true;
        }
        if (bytes.Length != layout.Size) parts.Add($"len={bytes.Length.ToString(CultureInfo.InvariantCulture)}");
        for (int i = 0; i < bytes.Length;)
        {
            if (covered[i] || bytes[i] == 0) { i++; continue; }
            int j = i;
            while (j < bytes.Length && !covered[j] && bytes[j] != 0) j++;
            parts.Add($"@{i.ToString(CultureInfo.InvariantCulture)}={Convert.ToHexStringLower(bytes[i..j])}");
            i = j;
        }
        return "{" + string.Join(", ", parts) + "}";
    }

    /// <summary>Parses a literal for <paramref name="cmd"/>; null with <paramref name="error"/> on failure.</summary>
    public static byte[]? Parse(uint cmd, string text, out string? error)
    {
        error = null;
        text = text.Trim();
        if (text.StartsWith("hex:", StringComparison.Ordinal)) return TraceText.ParseHex(text[4..], out error);
        if (!text.StartsWith('{') || !text.EndsWith('}')) { error = $"expected {{…}} or hex:…, got '{text}'"; return null; }
        var layout = For(cmd);
        var items = TraceText.SplitTop(text[1..^1], ',');
        int len = layout?.Size ?? 0;
        var assigns = new List<(string Key, string Value)>();
        foreach (string item in items)
        {
            if (item.Length == 0) continue;
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) { error = $"expected name=value, got '{item}'"; return null; }
            string key = item[..eq].Trim(), value = item[(eq + 1)..].Trim();
            if (key == "len")
            {
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out len) || len > TraceTarget.RegionBytes) { error = $"bad len '{value}'"; return null; }
            }
            else assigns.Add((key, value));
        }
        var b = new byte[len];
        foreach (var (key, value) in assigns)
        {
            if (key.StartsWith('@'))
            {
                if (!int.TryParse(key[1..], NumberStyles.None, CultureInfo.InvariantCulture, out int off)) { error = $"bad offset '{key}'"; return null; }
                var hex = TraceText.ParseHex(value, out error);
                if (hex is null) return null;
                if (off + hex.Length > b.Length) { error = $"{key} runs past len={b.Length}"; return null; }
                hex.CopyTo(b, off);
                continue;
            }
            if (layout is null) { error = $"command 0x{cmd:x} has no named fields; use hex:…"; return null; }
            var f = Array.Find(layout.Value.Fields, x => x.Name == key);
            if (f.Name is null) { error = $"unknown field '{key}'"; return null; }
            if (f.Offset + f.Size > b.Length) { error = $"field {key} runs past len={b.Length}"; return null; }
            var dst = b.AsSpan(f.Offset, f.Size);
            switch (f.Kind)
            {
                case FieldKind.U32:
                    if (!TraceText.TryParseU64(value, out ulong u) || u > uint.MaxValue) { error = $"bad {key} '{value}'"; return null; }
                    BinaryPrimitives.WriteUInt32LittleEndian(dst, (uint)u);
                    break;
                case FieldKind.S32:
                    if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int s)) { error = $"bad {key} '{value}'"; return null; }
                    BinaryPrimitives.WriteInt32LittleEndian(dst, s);
                    break;
                case FieldKind.U64:
                    if (!TraceText.TryParseU64(value, out ulong t)) { error = $"bad {key} '{value}'"; return null; }
                    BinaryPrimitives.WriteUInt64LittleEndian(dst, t);
                    break;
                default:
                    var str = TraceText.Unquote(value, out error);
                    if (str is null) return null;
                    if (str.Length > f.Size) { error = $"{key} longer than {f.Size} bytes"; return null; }
                    str.CopyTo(dst);
                    break;
            }
        }
        return b;
    }
}

/// <summary>Lexical helpers of the trace format: C-like strings with \xNN escapes, hex, numbers, splitting.</summary>
public static class TraceText
{
    /// <summary>"hex:…" (lower case; "hex:" alone for no bytes).</summary>
    public static string Hex(ReadOnlySpan<byte> b) => "hex:" + Convert.ToHexStringLower(b);

    /// <summary>Parses hex digits (no prefix).</summary>
    public static byte[]? ParseHex(string s, out string? error)
    {
        error = null;
        s = s.Trim();
        if (s.Length % 2 != 0) { error = "odd number of hex digits"; return null; }
        try { return Convert.FromHexString(s); }
        catch (FormatException) { error = $"bad hex '{s}'"; return null; }
    }

    /// <summary>A double-quoted literal: printable ASCII as is, \\ \" \n \t, everything else \xNN (exactly two digits).</summary>
    public static string Quote(ReadOnlySpan<byte> b)
    {
        var sb = new StringBuilder("\"");
        foreach (byte c in b)
        {
            switch (c)
            {
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                case >= 0x20 and < 0x7f: sb.Append((char)c); break;
                default: sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture)); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Inverse of <see cref="Quote"/>.</summary>
    public static byte[]? Unquote(string s, out string? error)
    {
        error = null;
        s = s.Trim();
        if (s.Length < 2 || s[0] != '"' || s[^1] != '"') { error = $"expected a \"string\", got '{s}'"; return null; }
        var r = new List<byte>();
        for (int i = 1; i < s.Length - 1; i++)
        {
            char c = s[i];
            if (c > 0x7e) { error = "non-ASCII character in string (use \\xNN)"; return null; }
            if (c != '\\') { r.Add((byte)c); continue; }
            if (++i >= s.Length - 1) { error = "dangling backslash"; return null; }
            switch (s[i])
            {
                case '\\': r.Add((byte)'\\'); break;
                case '"': r.Add((byte)'"'); break;
                case 'n': r.Add((byte)'\n'); break;
                case 't': r.Add((byte)'\t'); break;
                case 'x':
                    if (i + 2 >= s.Length || !byte.TryParse(s.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte v))
                    { error = "\\x needs two hex digits"; return null; }
                    r.Add(v);
                    i += 2;
                    break;
                default: error = $"unknown escape \\{s[i]}"; return null;
            }
        }
        return [.. r];
    }

    /// <summary>Decimal or 0x-hex unsigned.</summary>
    public static bool TryParseU64(string s, out ulong v)
    {
        s = s.Trim();
        return s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>Decimal (optionally negative) or 0x-hex.</summary>
    public static bool TryParseS64(string s, out long v)
    {
        s = s.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            bool ok = ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong u);
            v = (long)u;
            return ok;
        }
        return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>Splits at <paramref name="sep"/> outside quotes, braces and parentheses.</summary>
    public static List<string> SplitTop(string s, char sep)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        bool quoted = false;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (quoted)
            {
                if (c == '\\') i++;
                else if (c == '"') quoted = false;
                continue;
            }
            if (c == '"') quoted = true;
            else if (c is '{' or '(') depth++;
            else if (c is '}' or ')') depth--;
            else if (c == sep && depth == 0)
            {
                parts.Add(s[start..i].Trim());
                start = i + 1;
            }
        }
        parts.Add(s[start..].Trim());
        return parts;
    }
}
