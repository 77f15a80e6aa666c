using System.Globalization;
using System.Text;

namespace LuoModel.Fdt;

public static partial class FdtStrictCheck
{
    /// <summary>Longest node base name (before '@') and property name (fdt.md §6).</summary>
    public const int MaxNameLength = 31;

    /// <summary>Node-name characters of fdt.md §6: <c>0-9 a-z A-Z , . _ + -</c> ('@' separates the unit address).</summary>
    public static bool IsNodeNameChar(byte c) =>
        c is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z'
            or (byte)',' or (byte)'.' or (byte)'_' or (byte)'+' or (byte)'-';

    /// <summary>Property-name characters of fdt.md §6: the node set plus <c>?</c> and <c>#</c>.</summary>
    public static bool IsPropertyNameChar(byte c) => IsNodeNameChar(c) || c is (byte)'?' or (byte)'#';

    /// <summary>
    /// Why a non-root node name breaks fdt.md §6, or null when it is valid: empty, '/', a character outside the
    /// set, more than one '@', empty base name or unit address, base name over 31 characters.
    /// </summary>
    public static string? NodeNameProblem(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty) return "empty node name";
        int at = -1;
        for (int i = 0; i < name.Length; i++)
        {
            byte c = name[i];
            if (c == (byte)'/') return "'/' inside a node name";
            if (c == (byte)'@')
            {
                if (at >= 0) return "more than one '@'";
                at = i;
                continue;
            }
            if (!IsNodeNameChar(c)) return "character " + DescribeChar(c) + " is not allowed";
        }
        int baseLen = at < 0 ? name.Length : at;
        if (baseLen == 0) return "empty base name before '@'";
        if (at == name.Length - 1) return "empty unit address after '@'";
        if (baseLen > MaxNameLength)
            return string.Create(CultureInfo.InvariantCulture, $"base name has {baseLen} characters (at most {MaxNameLength})");
        return null;
    }

    /// <summary>Why a property name breaks fdt.md §6 (empty, over 31 characters, character outside the set), or null.</summary>
    public static string? PropertyNameProblem(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty) return "empty property name";
        foreach (byte c in name)
        {
            if (!IsPropertyNameChar(c)) return "character " + DescribeChar(c) + " is not allowed";
        }
        if (name.Length > MaxNameLength)
            return string.Create(CultureInfo.InvariantCulture, $"name has {name.Length} characters (at most {MaxNameLength})");
        return null;
    }

    private static string DescribeChar(byte c) =>
        c is >= 0x21 and < 0x7f ? "'" + (char)c + "'" : string.Create(CultureInfo.InvariantCulture, $"0x{c:x2}");

    /// <summary>A name for messages: printable ASCII kept, other bytes as \xNN, cut after 64 bytes.</summary>
    internal static string Printable(ReadOnlySpan<byte> name)
    {
        const int Cap = 64;
        var sb = new StringBuilder(Math.Min(name.Length, Cap) + 2);
        sb.Append('"');
        for (int i = 0; i < name.Length && i < Cap; i++)
        {
            byte c = name[i];
            if (c is >= 0x20 and < 0x7f && c != (byte)'"' && c != (byte)'\\') sb.Append((char)c);
            else sb.Append(CultureInfo.InvariantCulture, $"\\x{c:x2}");
        }
        if (name.Length > Cap) sb.Append("...");
        sb.Append('"');
        return sb.ToString();
    }
}
