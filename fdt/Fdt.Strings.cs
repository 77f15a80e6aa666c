using System.Text;

namespace LuoModel.Fdt;

public static partial class Fdt
{
    /// <summary>fdt_stringlist_contains(): whether a string list holds <paramref name="str"/> exactly.</summary>
    public static bool StringListContains(ReadOnlySpan<byte> list, ReadOnlySpan<byte> str)
    {
        int len = str.Length;
        while (list.Length >= len)
        {
            // libfdt compares len+1 bytes; the NUL byte must be inside the list here.
            if (list.Length > len && list[..len].SequenceEqual(str) && list[len] == 0) return true;
            int p = list.IndexOf((byte)0);
            if (p < 0) return false;
            list = list[(p + 1)..];
        }
        return false;
    }

    /// <summary>fdt_node_check_compatible(): 0 if the node's compatible list holds the string, 1 if not, or a negated code.</summary>
    public static int NodeCheckCompatible(ReadOnlySpan<byte> fdt, int nodeOffset, ReadOnlySpan<byte> compatible)
    {
        int len = GetProp(fdt, nodeOffset, "compatible"u8, out ReadOnlySpan<byte> value);
        if (len < 0) return len;
        return StringListContains(value, compatible) ? 0 : 1;
    }

    /// <summary>fdt_node_check_compatible() with a string.</summary>
    public static int NodeCheckCompatible(ReadOnlySpan<byte> fdt, int nodeOffset, string compatible) =>
        NodeCheckCompatible(fdt, nodeOffset, Encoding.UTF8.GetBytes(compatible));

    /// <summary>fdt_stringlist_count(): number of strings, BADVALUE if the last lacks its NUL, or the getprop error.</summary>
    public static int StringListCount(ReadOnlySpan<byte> fdt, int nodeOffset, ReadOnlySpan<byte> property)
    {
        int length = GetProp(fdt, nodeOffset, property, out ReadOnlySpan<byte> list);
        if (length < 0) return length;
        int count = 0;
        while (!list.IsEmpty)
        {
            int n = list.IndexOf((byte)0);
            if (n < 0) return FdtError.BadValue.Neg();
            list = list[(n + 1)..];
            count++;
        }
        return count;
    }

    /// <summary>fdt_stringlist_search(): index of <paramref name="str"/> in the list, NOTFOUND, BADVALUE, or the getprop error.</summary>
    public static int StringListSearch(ReadOnlySpan<byte> fdt, int nodeOffset, ReadOnlySpan<byte> property, ReadOnlySpan<byte> str)
    {
        int length = GetProp(fdt, nodeOffset, property, out ReadOnlySpan<byte> list);
        if (length < 0) return length;
        int idx = 0;
        while (!list.IsEmpty)
        {
            int n = list.IndexOf((byte)0);
            if (n < 0) return FdtError.BadValue.Neg();
            if (list[..n].SequenceEqual(str)) return idx;
            list = list[(n + 1)..];
            idx++;
        }
        return FdtError.NotFound.Neg();
    }

    /// <summary>fdt_stringlist_get(): the string at <paramref name="index"/>; result is its length or a negated code.</summary>
    public static int StringListGet(ReadOnlySpan<byte> fdt, int nodeOffset, ReadOnlySpan<byte> property, int index, out ReadOnlySpan<byte> str)
    {
        str = default;
        int length = GetProp(fdt, nodeOffset, property, out ReadOnlySpan<byte> list);
        if (length < 0) return length;
        while (!list.IsEmpty)
        {
            int n = list.IndexOf((byte)0);
            if (n < 0) return FdtError.BadValue.Neg();
            if (index == 0) { str = list[..n]; return n; }
            list = list[(n + 1)..];
            index--;
        }
        return FdtError.NotFound.Neg();
    }
}
