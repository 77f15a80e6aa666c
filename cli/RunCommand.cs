using System.CommandLine;
using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Testkit;

namespace LuoModel.Cli;

/// <summary>
/// <c>luo run [--variant NAME …] [SCENARIO…|all]</c> (issue 7 §2): runs rows of the upstream scenario catalog
/// (scenarios.md §2) on the model under the chosen variants and prints the report as kselftest does: "TAP version
/// 13", the plan, "ok N name" / "not ok N name" (diagnostic "# " lines before a failure), "# SKIP reason", and the
/// "# Totals:" line. Exit status as kselftest: 0 when nothing failed, 1 when something failed, 4 when every case
/// skipped; 2 for a usage error (unknown scenario or variant).
/// </summary>
internal static class RunCommand
{
    /// <summary>kselftest KSFT_PASS.</summary>
    public const int KsftPass = 0;
    /// <summary>kselftest KSFT_FAIL.</summary>
    public const int KsftFail = 1;
    /// <summary>kselftest KSFT_SKIP.</summary>
    public const int KsftSkip = 4;
    /// <summary>Usage error (unknown scenario or variant).</summary>
    public const int ExitUsage = 2;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var variant = new Option<string[]>("--variant") { Description = "named variant (repeatable, composable) or switch=value; see `luo run --list-variants`" };
        var list = new Option<bool>("--list-variants") { Description = "print the named variants and exit" };
        var scenarios = new Argument<string[]>("scenario") { Description = "catalog ids (A1, H3, I) or upstream names; \"all\" or none: the whole catalog", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("run", "Run the upstream scenario catalog on the model and print KTAP as kselftest does")
        {
            variant, list, scenarios,
        };
        cmd.SetAction(r =>
        {
            var o = CliIo.Out(r);
            if (r.GetValue(list))
            {
                foreach (var p in VariantPresets.All)
                    o.Write($"{p.Name,-20} {(p.Settings.Count == 0 ? "(defaults)" : string.Join(" ", p.Settings))}  {p.Models}\n");
                return KsftPass;
            }
            return Run(r.GetValue(variant) ?? [], r.GetValue(scenarios) ?? [], o, CliIo.Err(r));
        });
        return cmd;
    }

    /// <summary>Resolves scenario ids/names ("all" or none: the catalog); null with an error line written on an
    /// unknown one.</summary>
    public static List<Scenario>? Resolve(IReadOnlyList<string> names, TextWriter err)
    {
        if (names.Count == 0) return [.. ScenarioCatalog.All];
        var result = new List<Scenario>();
        foreach (string n in names)
        {
            if (string.Equals(n, "all", StringComparison.OrdinalIgnoreCase)) { result.AddRange(ScenarioCatalog.All); continue; }
            if (string.Equals(n, "mainline", StringComparison.OrdinalIgnoreCase)) { result.AddRange(ScenarioCatalog.Mainline); continue; }
            var s = ScenarioCatalog.Find(n);
            if (s is null)
            {
                err.Write($"luo run: no scenario \"{n}\" (ids A1 … I, upstream names, \"mainline\" or \"all\")\n");
                return null;
            }
            result.Add(s);
        }
        return result;
    }

    private static int Run(IReadOnlyList<string> variants, IReadOnlyList<string> names, TextWriter o, TextWriter err)
    {
        var config = VariantPresets.Build(variants, out string? error);
        if (config is null)
        {
            err.Write($"luo run: {error}\n");
            return ExitUsage;
        }
        var list = Resolve(names, err);
        if (list is null) return ExitUsage;
        // embedded checks A4 and E1 read the call trace, so it stays on
        var report = CatalogRunner.Run(config, list);
        WriteKselftest(report, variants, o);
        return ExitStatus(report);
    }

    /// <summary>kselftest exit status of a report.</summary>
    public static int ExitStatus(CatalogReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Failed > 0) return KsftFail;
        if (report.Results.Count > 0 && report.Skipped == report.Results.Count) return KsftSkip;
        return KsftPass;
    }

    /// <summary>Writes <paramref name="report"/> in kselftest's TAP 13 form.</summary>
    public static void WriteKselftest(CatalogReport report, IReadOnlyList<string> variants, TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(w);
        var inv = CultureInfo.InvariantCulture;
        w.Write("TAP version 13\n");
        w.Write("# variant: " + (variants.Count == 0 ? "mainline" : string.Join(" ", variants)) + "\n");
        w.Write(string.Create(inv, $"1..{report.Results.Count}\n"));
        for (int i = 0; i < report.Results.Count; i++)
        {
            var r = report.Results[i];
            string head = string.Create(inv, $"{i + 1} {r.Scenario.Id} {r.Scenario.UpstreamName}");
            switch (r.Outcome)
            {
                case ScenarioOutcome.Pass:
                    w.Write("ok " + head + "\n");
                    break;
                case ScenarioOutcome.Skip:
                    w.Write("ok " + head + " # SKIP" + (string.IsNullOrEmpty(r.SkipReason) ? "" : " " + r.SkipReason) + "\n");
                    break;
                default:
                    var f = r.FirstFailure;
                    if (f is not null) w.Write($"# {f.Name}: expected {f.Expected}, got {f.Actual}\n");
                    w.Write("not ok " + head + "\n");
                    break;
            }
        }
        w.Write(string.Create(inv, $"# Totals: pass:{report.Passed} fail:{report.Failed} xfail:0 xpass:0 skip:{report.Skipped} error:0\n"));
    }
}
