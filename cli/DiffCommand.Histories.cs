using System.Globalization;
using LuoModel.Testkit.Histories;

namespace LuoModel.Cli;

internal static partial class DiffCommand
{
    /// <summary>Random histories replayed by default when the whole catalog is compared.</summary>
    public const int RandomHistoriesDefault = RandomHistories.DefaultCount;

    /// <summary>Call arguments without the "&lt;/proc link text&gt;" after fd numbers: a variant that only renames
    /// the link (session_inode) still makes the same call.</summary>
    private static string StripFdNames(string args) => FdName().Replace(args, "");

    [System.Text.RegularExpressions.GeneratedRegex(@"<[^<>]*>")]
    private static partial System.Text.RegularExpressions.Regex FdName();

    /// <summary>Writes, per history whose results differ, its first divergent step; returns how many differ.</summary>
    public static int WriteHistories(IEnumerable<HistoryComparison> comparisons, int count, int length, TextWriter o)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        ArgumentNullException.ThrowIfNull(o);
        var inv = CultureInfo.InvariantCulture;
        o.Write(string.Create(inv, $"\n# random histories: {count} of {length} ops (property-test generator, seeds from 0x{RandomHistories.DefaultSeed:x})\n"));
        int differing = 0;
        foreach (var c in comparisons)
        {
            if (c.Divergence is not { } d) continue;
            differing++;
            o.Write(string.Create(inv, $"\n== history {c.Number} (seed 0x{c.Seed:x16}): first divergent step {d.Index + 1} of {c.Ops.Count}\n"));
            o.Write("< " + d.Left + "\n");
            o.Write("> " + d.Right + "\n");
        }
        o.Write(string.Create(inv, $"\n# {differing} of {count} histories differ\n"));
        return differing;
    }
}
