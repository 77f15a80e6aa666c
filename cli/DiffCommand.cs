using System.CommandLine;
using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Testkit;

namespace LuoModel.Cli;

/// <summary>
/// <c>luo diff --variant A --variant B [SCENARIO…|all]</c> (issue 7 §3): runs catalog rows under two
/// configurations and prints, per scenario that behaves differently, both outcomes, the first divergent step
/// and every call whose result differs (aligned call by call until the two traces stop making the same calls).
/// One <c>--variant</c> compares mainline with it; a side may compose presets with '+'
/// (<c>fdt-v1+no-name-check</c>). With the whole catalog (no scenario named, or "all") it also replays a fixed set
/// of seeded random histories (<c>--histories N</c>, default 50 then, 0 otherwise) under both sides and prints
/// the first divergent step of each. Exit status: 0 when nothing differs, 1 when something does, 2 on a usage error.
/// </summary>
internal static partial class DiffCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var variant = new Option<string[]>("--variant") { Description = "left and right configuration (one: mainline vs it); presets joined with '+' compose" };
        var scenarios = new Argument<string[]>("scenario") { Description = "catalog ids or upstream names; \"all\" or none: the whole catalog", Arity = ArgumentArity.ZeroOrMore };
        var histories = new Option<int?>("--histories") { Description = $"seeded random histories to replay under both sides (default {RandomHistoriesDefault} with the whole catalog, 0 when scenarios are named)" };
        var length = new Option<int>("--history-length") { Description = "ops per random history", DefaultValueFactory = _ => LuoModel.Testkit.Histories.RandomHistories.DefaultLength };
        var cmd = new Command("diff", "Run the scenario catalog and seeded random histories under two variants and print what differs")
        {
            variant, scenarios, histories, length,
        };
        cmd.SetAction(r => Run(r.GetValue(variant) ?? [], r.GetValue(scenarios) ?? [], r.GetValue(histories), r.GetValue(length), CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }

    private static int Run(string[] variants, string[] names, int? histories, int length, TextWriter o, TextWriter err)
    {
        bool wholeCatalog = names.Length == 0 || (names.Length == 1 && names[0] == "all");
        int historyCount = histories ?? (wholeCatalog ? RandomHistoriesDefault : 0);
        if (historyCount < 0 || length <= 0)
        {
            err.Write("luo diff: --histories must be >= 0 and --history-length > 0\n");
            return RunCommand.ExitUsage;
        }
        if (variants.Length is 0 or > 2)
        {
            err.Write("luo diff: give one or two --variant (left and right)\n");
            return RunCommand.ExitUsage;
        }
        string leftName = variants.Length == 2 ? variants[0] : "mainline";
        string rightName = variants[^1];
        var left = VariantPresets.Build(leftName.Split('+'), out string? e1);
        var right = VariantPresets.Build(rightName.Split('+'), out string? e2);
        if (left is null || right is null)
        {
            err.Write($"luo diff: {e1 ?? e2}\n");
            return RunCommand.ExitUsage;
        }
        var list = RunCommand.Resolve(names, err);
        if (list is null) return RunCommand.ExitUsage;
        int differing = Write(list.Select(s => CatalogRunner.Compare(s, left, right)), leftName, rightName, o);
        if (historyCount > 0) differing += WriteHistories(LuoModel.Testkit.Histories.RandomHistories.Compare(left, right, historyCount, length), historyCount, length, o);
        return differing == 0 ? 0 : 1;
    }

    /// <summary>Writes the comparisons that differ; returns how many differ.</summary>
    public static int Write(IEnumerable<ScenarioComparison> comparisons, string leftName, string rightName, TextWriter o)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        ArgumentNullException.ThrowIfNull(o);
        var inv = CultureInfo.InvariantCulture;
        o.Write($"# luo diff: {leftName} (<) vs {rightName} (>)\n");
        int total = 0, differing = 0;
        foreach (var c in comparisons)
        {
            total++;
            if (c.Identical) continue;
            differing++;
            o.Write(string.Create(inv, $"\n== {c.Scenario.DisplayName}: {Word(c.Left.Outcome)} < > {Word(c.Right.Outcome)}\n"));
            if (c.FirstStepDifference >= 0)
            {
                int i = c.FirstStepDifference;
                o.Write(string.Create(inv, $"first divergent step {i + 1}:\n"));
                o.Write("< " + (i < c.Left.Steps.Count ? c.Left.Steps[i].ToString() : "(no such step)") + "\n");
                o.Write("> " + (i < c.Right.Steps.Count ? c.Right.Steps[i].ToString() : "(no such step)") + "\n");
            }
            WriteCalls(c.Left.Trace, c.Right.Trace, o);
        }
        o.Write(string.Create(inv, $"\n# {differing} of {total} scenarios differ\n"));
        return differing;
    }

    private static string Word(ScenarioOutcome outcome) => outcome switch
    {
        ScenarioOutcome.Pass => "pass",
        ScenarioOutcome.Skip => "skip",
        _ => "fail",
    };

    /// <summary>Every aligned call whose result or reply differs, then where the traces stop matching.</summary>
    private static void WriteCalls(SyscallLog left, SyscallLog right, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        int n = Math.Min(left.Count, right.Count);
        for (int i = 0; i < n; i++)
        {
            var a = left.Records[i];
            var b = right.Records[i];
            if (a.Line == b.Line) continue;
            bool sameCall = a.Call == b.Call && StripFdNames(a.Args) == StripFdNames(b.Args) && a.Pid == b.Pid && a.Boot == b.Boot && a.Machine == b.Machine;
            o.Write(string.Create(inv, $"call {i + 1}:\n< {a.Line}\n> {b.Line}\n"));
            if (!sameCall)
            {
                o.Write(string.Create(inv, $"traces diverge at call {i + 1} ({left.Count} < > {right.Count} calls)\n"));
                return;
            }
        }
        if (left.Count != right.Count)
            o.Write(string.Create(inv, $"traces diverge at call {n + 1} ({left.Count} < > {right.Count} calls)\n"));
    }
}
