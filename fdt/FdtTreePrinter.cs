using System.Globalization;
using System.Text;

namespace LuoModel.Fdt;

/// <summary>
/// The canonical logical dump of a blob (the vectors' <c>tree.txt</c> format): header versions, reservations,
/// then every node (depth and full path) and property (node path, name, length, lowercase hex value) in
/// structure order, read only through the read-only API as libfdt's fdt_next_node / property iteration.
/// </summary>
public static class FdtTreePrinter
{
    /// <summary>Prints the tree; returns 0 or the first libfdt error met (the text printed so far stays).</summary>
    public static int Print(ReadOnlySpan<byte> fdt, TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        int err = Fdt.RoProbe(fdt);
        if (err < 0) return err;
        w.Write(string.Create(CultureInfo.InvariantCulture,
            $"header version={Fdt.Version(fdt)} last_comp_version={Fdt.LastCompVersion(fdt)} boot_cpuid_phys={Fdt.BootCpuidPhys(fdt)}\n"));
        int n = Fdt.NumMemRsv(fdt);
        if (n < 0) return n;
        for (int i = 0; i < n; i++)
        {
            err = Fdt.GetMemRsv(fdt, i, out ulong addr, out ulong size);
            if (err < 0) return err;
            w.Write(string.Create(CultureInfo.InvariantCulture, $"rsv 0x{addr:x16} 0x{size:x16}\n"));
        }
        int depth = 0;
        for (int node = Fdt.NextNode(fdt, -1, ref depth); node >= 0; node = Fdt.NextNode(fdt, node, ref depth))
        {
            string? path = Fdt.GetPathString(fdt, node, out err);
            if (path is null) return err;
            w.Write(string.Create(CultureInfo.InvariantCulture, $"node {depth - 1} {path}\n"));
            int prop;
            for (prop = Fdt.FirstPropertyOffset(fdt, node); prop >= 0; prop = Fdt.NextPropertyOffset(fdt, prop))
            {
                int len = Fdt.GetPropByOffset(fdt, prop, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value);
                if (len < 0) return len;
                w.Write("prop ");
                w.Write(path);
                w.Write(' ');
                w.Write(Encoding.UTF8.GetString(name));
                w.Write(string.Create(CultureInfo.InvariantCulture, $" {len} "));
                w.Write(Convert.ToHexStringLower(value));
                w.Write('\n');
            }
            if (prop != FdtError.NotFound.Neg()) return prop;
        }
        return 0;
    }

    /// <summary>The tree text as a string, with the error code.</summary>
    public static string ToText(ReadOnlySpan<byte> fdt, out int err)
    {
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        err = Print(fdt, sw);
        return sw.ToString();
    }
}
