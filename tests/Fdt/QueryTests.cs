using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using LuoModel.Fdt;

namespace LuoModel.Tests.Fdt;

/// <summary>
/// Replays the vectors' <c>*.queries.txt</c> (fdt_path_offset / fdt_getprop / fdt_subnode_offset as run by
/// <c>fdtvec query</c> on the dtc blob) on all three blobs of the case. Node offsets are relative to the
/// structure block, and the three structure blocks differ only in nameoff values (vectors README, "How the dtc
/// and libfdt blobs differ" 3), so every line must come out identical for each blob.
/// </summary>
public partial class QueryTests
{
    [GeneratedRegex("^fdt_path_offset\\(\"(?<path>[^\"]*)\"\\) = ")]
    private static partial Regex PathQuery();

    [GeneratedRegex("^fdt_getprop\\(\"(?<path>[^\"]*)\", \"(?<name>[^\"]*)\"\\)")]
    private static partial Regex GetPropQuery();

    [GeneratedRegex("^fdt_subnode_offset\\(\"(?<path>[^\"]*)\", \"(?<name>[^\"]*)\"\\) = ")]
    private static partial Regex SubnodeQuery();

    public static TheoryData<string, string, int> QueryLines()
    {
        var d = new TheoryData<string, string, int>();
        if (Directory.Exists(Vectors.Dir))
        {
            foreach (string file in Directory.GetFiles(Vectors.Dir, "*.queries.txt").Order(StringComparer.Ordinal))
            {
                string id = Path.GetFileName(file)[..^".queries.txt".Length];
                string[] lines = File.ReadAllLines(file);
                foreach (string kind in new[] { "dtc", "libfdt", "libfdt-nodedup" })
                    for (int i = 0; i < lines.Length; i++)
                        if (lines[i].Length > 0) d.Add(id, kind, i);
            }
        }
        if (d.Count == 0) d.Add("<no queries found>", "dtc", 0);
        return d;
    }

    [Fact]
    public void The_three_query_files_are_present()
    {
        foreach (string id in new[] { "11-unit-address", "14-luo", "15-kho" })
            Assert.True(Vectors.Exists($"{id}.queries.txt"), id);
    }

    [Theory]
    [MemberData(nameof(QueryLines))]
    public void Query_line_gives_the_libfdt_result(string id, string kind, int line)
    {
        string expected = File.ReadAllLines(Path.Combine(Vectors.Dir, $"{id}.queries.txt"))[line];
        byte[] blob = Vectors.Bytes($"{id}.{kind}.dtb");
        Assert.Equal(0, LuoModel.Fdt.Fdt.CheckFull(blob));
        Assert.Equal(expected, Run(blob, expected));
    }

    /// <summary>Parses the call out of a line and formats the C# result the way fdtvec prints it.</summary>
    private static string Run(byte[] blob, string line)
    {
        var c = CultureInfo.InvariantCulture;
        Match m;
        if ((m = PathQuery().Match(line)).Success)
        {
            string path = m.Groups["path"].Value;
            int off = LuoModel.Fdt.Fdt.PathOffset(blob, path);
            string tail = off >= 0
                ? $" name=\"{Encoding.UTF8.GetString(LuoModel.Fdt.Fdt.GetNameSpan(blob, off))}\""
                : $" {FdtErrors.Name(off)}";
            return string.Create(c, $"fdt_path_offset(\"{path}\") = {off}{tail}");
        }
        if ((m = GetPropQuery().Match(line)).Success)
        {
            string path = m.Groups["path"].Value, name = m.Groups["name"].Value;
            int node = LuoModel.Fdt.Fdt.PathOffset(blob, path);
            if (node < 0) return $"fdt_getprop(\"{path}\", \"{name}\"): path {FdtErrors.Name(node)}";
            int len = LuoModel.Fdt.Fdt.GetProp(blob, node, name, out ReadOnlySpan<byte> value);
            string result = len >= 0
                ? string.Create(c, $"len {len} {Convert.ToHexStringLower(value)}")
                : string.Create(c, $"NULL len={len} {FdtErrors.Name(len)}");
            return $"fdt_getprop(\"{path}\", \"{name}\") = {result}";
        }
        if ((m = SubnodeQuery().Match(line)).Success)
        {
            string path = m.Groups["path"].Value, name = m.Groups["name"].Value;
            int off = LuoModel.Fdt.Fdt.PathOffset(blob, path);
            int sub = off < 0 ? off : LuoModel.Fdt.Fdt.SubnodeOffset(blob, off, name);
            string tail = sub < 0 ? " " + FdtErrors.Name(sub) : "";
            return string.Create(c, $"fdt_subnode_offset(\"{path}\", \"{name}\") = {sub}{tail}");
        }
        return $"<unparsed query line: {line}>";
    }
}
