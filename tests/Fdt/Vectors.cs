using System.Security.Cryptography;

namespace LuoModel.Tests.Fdt;

/// <summary>Locates the golden vectors copied into the test output (tests/vectors/fdt).</summary>
internal static class Vectors
{
    public static string Dir { get; } = Path.Combine(AppContext.BaseDirectory, "vectors", "fdt");

    public static byte[] Bytes(string file) => File.ReadAllBytes(Path.Combine(Dir, file));

    public static string Text(string file) => File.ReadAllText(Path.Combine(Dir, file));

    public static bool Exists(string file) => File.Exists(Path.Combine(Dir, file));

    /// <summary>The 20 case ids (from the .dts files). An empty or missing folder gives no ids, and the guard test fails.</summary>
    public static IEnumerable<string> CaseIds() =>
        Directory.Exists(Dir)
            ? Directory.GetFiles(Dir, "*.dts").Select(Path.GetFileName).Where(f => !f!.Contains(".decompiled", StringComparison.Ordinal))
                .Select(f => f![..^4]).Order(StringComparer.Ordinal)
            : [];

    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (string id in CaseIds()) d.Add(id);
        if (d.Count == 0) d.Add("<no vectors found>");
        return d;
    }

    public static TheoryData<string, string> CaseBlobs()
    {
        var d = new TheoryData<string, string>();
        foreach (string id in CaseIds())
            foreach (string kind in new[] { "dtc", "libfdt", "libfdt-nodedup" })
                d.Add(id, kind);
        if (d.Count == 0) d.Add("<no vectors found>", "dtc");
        return d;
    }

    /// <summary>Rows of crafted-results.tsv: file, check_header code, check_full code.</summary>
    public static IEnumerable<(string File, int Header, int Full)> Crafted()
    {
        string path = Path.Combine(Dir, "crafted-results.tsv");
        if (!File.Exists(path)) yield break;
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            string[] f = line.Split('\t');
            if (f.Length < 4) continue;
            // Columns: file, bytes, check_header ("n/a" where libfdt was not called), check_full, ...
            int header = int.TryParse(f[2].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out int h) ? h : int.MinValue;
            int full = int.Parse(f[3].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            yield return (f[0], header, full);
        }
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
