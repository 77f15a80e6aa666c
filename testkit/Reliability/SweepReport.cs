using System.Globalization;
using System.Text;
using LuoModel.Testkit.Handover;

namespace LuoModel.Testkit.Reliability;

/// <summary>Runs a list of corruptions and tabulates outcome counts per structure kind.</summary>
public static class SweepReport
{
    /// <summary>Runs every corruption (in parallel on <paramref name="threads"/> threads) and returns the results in input order.</summary>
    public static CorruptionResult[] RunAll(CorruptionSweep sweep, IReadOnlyList<Corruption> list, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(list);
        var results = new CorruptionResult[list.Count];
        Parallel.For(0, list.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => results[i] = sweep.Run(list[i]));
        return results;
    }

    /// <summary>Markdown table: one row per structure kind, one column per outcome, plus wild pointers and failures.</summary>
    public static string Table(IEnumerable<CorruptionResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var outcomes = Enum.GetValues<CorruptionOutcome>();
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("| structure | runs |");
        foreach (var o in outcomes) sb.Append(c, $" {o} |");
        sb.Append(" wild pointer | failures |\n|---|---:|");
        foreach (var _ in outcomes) sb.Append("---:|");
        sb.Append("---:|---:|\n");
        var all = results.ToList();
        foreach (var g in all.GroupBy(r => r.Region.Kind).OrderBy(g => g.Key))
            Row(sb, g.Key.ToString(), g.ToList(), outcomes);
        Row(sb, "**total**", all, outcomes);
        return sb.ToString();
    }

    private static void Row(StringBuilder sb, string name, List<CorruptionResult> rows, CorruptionOutcome[] outcomes)
    {
        var c = CultureInfo.InvariantCulture;
        sb.Append(c, $"| {name} | {rows.Count} |");
        foreach (var o in outcomes) sb.Append(c, $" {rows.Count(r => r.Outcome == o)} |");
        sb.Append(c, $" {rows.Count(r => r.WildPointer)} | {rows.Count(r => r.Failure is not null)} |\n");
    }

    /// <summary>Outcomes of the wild-pointer cases (what the model stopped with where the kernel is undefined).</summary>
    public static string WildSummary(IEnumerable<CorruptionResult> results) =>
        string.Join(", ", results.Where(r => r.WildPointer).GroupBy(r => r.Outcome).OrderBy(g => g.Key)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Count()}")));

    /// <summary>Every kind present in a result list.</summary>
    public static IReadOnlySet<MetaKind> Kinds(IEnumerable<CorruptionResult> results) => results.Select(r => r.Region.Kind).ToHashSet();
}
