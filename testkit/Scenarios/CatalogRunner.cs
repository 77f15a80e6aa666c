using System.Globalization;
using LuoModel.Kernel;

namespace LuoModel.Testkit;

/// <summary>Results of running a list of scenarios under one configuration.</summary>
public sealed record CatalogReport(KernelConfig Config, IReadOnlyList<ScenarioResult> Results)
{
    /// <summary>Number of passes.</summary>
    public int Passed => Results.Count(r => r.Outcome == ScenarioOutcome.Pass);
    /// <summary>Number of failures.</summary>
    public int Failed => Results.Count(r => r.Outcome == ScenarioOutcome.Fail);
    /// <summary>Number of skips.</summary>
    public int Skipped => Results.Count(r => r.Outcome == ScenarioOutcome.Skip);
}

/// <summary>One scenario run under two configurations, compared step by step and call by call.</summary>
/// <param name="Scenario">The row.</param>
/// <param name="Left">Result under the left configuration.</param>
/// <param name="Right">Result under the right configuration.</param>
/// <param name="FirstStepDifference">0-based index of the first step whose name, result or verdict differs
/// (or that exists on one side only); -1 when the steps are identical.</param>
/// <param name="Trace">First divergence of the two traces.</param>
public sealed record ScenarioComparison(Scenario Scenario, ScenarioResult Left, ScenarioResult Right, int FirstStepDifference, TraceDivergence Trace)
{
    /// <summary>True when outcome, steps and traces are identical.</summary>
    public bool Identical => Left.Outcome == Right.Outcome && FirstStepDifference < 0 && Trace.Equal;
}

/// <summary>
/// Runs catalog rows under a chosen configuration (a <see cref="KernelConfig"/> with its
/// <see cref="LuoOptions"/> variant), formats KTAP, and compares two configurations.
/// </summary>
public static class CatalogRunner
{
    /// <summary>Runs <paramref name="scenarios"/> (default: the whole catalog) under
    /// <paramref name="config"/> (default: mainline N), each on its own fresh machines.</summary>
    public static CatalogReport Run(KernelConfig? config = null, IEnumerable<Scenario>? scenarios = null, bool trace = true)
    {
        config ??= new KernelConfig();
        var list = (scenarios ?? ScenarioCatalog.All).Select(s => s.Run(config, trace)).ToList();
        return new CatalogReport(config, list);
    }

    /// <summary>Runs <paramref name="scenario"/> under both configurations and compares the results.</summary>
    public static ScenarioComparison Compare(Scenario scenario, KernelConfig left, KernelConfig right)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var a = scenario.Run(left);
        var b = scenario.Run(right);
        int step = -1;
        int n = Math.Max(a.Steps.Count, b.Steps.Count);
        for (int i = 0; i < n && step < 0; i++)
            if (i >= a.Steps.Count || i >= b.Steps.Count || a.Steps[i] != b.Steps[i]) step = i;
        return new ScenarioComparison(scenario, a, b, step, SyscallLog.Compare(a.Trace, b.Trace));
    }

    /// <summary>Writes a KTAP version 1 report: plan, one result line per scenario ("ok N ID name",
    /// "not ok N ID name" preceded by "# " diagnostic lines naming the failing step, "ok N ID name # SKIP
    /// reason"), and a totals diagnostic.</summary>
    public static void WriteKtap(CatalogReport report, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(writer);
        var inv = CultureInfo.InvariantCulture;
        writer.Write("KTAP version 1\n");
        writer.Write(string.Create(inv, $"1..{report.Results.Count}\n"));
        for (int i = 0; i < report.Results.Count; i++)
        {
            var r = report.Results[i];
            string head = string.Create(inv, $"{i + 1} {r.Scenario.Id} {r.Scenario.UpstreamName}");
            switch (r.Outcome)
            {
                case ScenarioOutcome.Pass:
                    writer.Write("ok " + head + "\n");
                    break;
                case ScenarioOutcome.Skip:
                    writer.Write("ok " + head + " # SKIP " + r.SkipReason + "\n");
                    break;
                default:
                    var f = r.FirstFailure;
                    if (f is not null) writer.Write($"# {r.Scenario.Id}: {f.Name}: expected {f.Expected}, got {f.Actual}\n");
                    writer.Write("not ok " + head + "\n");
                    break;
            }
        }
        writer.Write(string.Create(inv, $"# totals: pass:{report.Passed} fail:{report.Failed} skip:{report.Skipped}\n"));
    }
}
