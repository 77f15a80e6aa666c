using LuoModel.Cli;
using LuoModel.Testkit;

namespace LuoModel.Tests.Cli;

/// <summary><c>luo diff</c> (issue 7 §3) and the variant-sensitivity table of scenarios.md §4 over the 20
/// mainline cases.</summary>
public class DiffCliTests
{
    private static (int Code, string Out, string Err) Luo(params string[] args) => LuoModel.Tests.Cli.LuoCli.Run(args);

    /// <summary>scenarios.md §4, one single switch per row: the mainline cases it flips.</summary>
    public static TheoryData<string, string[]> SensitivityTable => new()
    {
        { "no-name-check", ["B3", "B4"] },
        { "get-name-absent", ["B5", "B6"] },
        { "get-name-seed", ["B5", "B6"] },
        { "no-double-preserve", ["C5"] },
        { "fdt-v1", ["H1", "H2", "H3", "H4"] },
        // switches the table does not list flip no mainline case (the model's own run, docs/variants.md)
        { "no-direction-check", [] },
        { "retrieve-retry", [] },
        { "memfd-v1", [] },
        { "get-name-table-72", [] },
        { "unfreeze-zeroes", [] },
        { "trim-empty-block", [] },
        { "registration-quiesce", [] },
        { "flb-get-no-ref", [] },
        { "luos-singleton", [] },
        { "luos-per-session", [] },
    };

    [Theory]
    [MemberData(nameof(SensitivityTable))]
    public void Each_single_switch_flips_exactly_its_mainline_cases(string variant, string[] flipped)
    {
        var config = VariantPresets.Build([variant], out string? error);
        Assert.Null(error);
        var report = CatalogRunner.Run(config, ScenarioCatalog.Mainline, trace: false);
        Assert.Equal(20, report.Results.Count);
        Assert.Equal(flipped, report.Results.Where(r => r.Outcome != ScenarioOutcome.Pass).Select(r => r.Scenario.Id));
        Assert.All(report.Results.Where(r => r.Outcome != ScenarioOutcome.Pass), r => Assert.Equal(ScenarioOutcome.Fail, r.Outcome));
    }

    [Fact]
    public void Diff_of_the_GET_NAME_seed_against_merged_names_the_step_and_the_call()
    {
        var (code, output, err) = Luo("diff", "--variant", "mainline", "--variant", "get-name-seed", "B5", "B1");
        Assert.Equal((1, ""), (code, err));
        string[] lines = output.Split('\n');
        Assert.Equal("# luo diff: mainline (<) vs get-name-seed (>)", lines[0]);
        Assert.Contains("== B5 get_session_name: pass < > fail", lines);
        Assert.Contains("> FAILED: get_session_name: name_buf: expected \"get-name-test-session\", got \"name-test-session\"", lines);
        Assert.Contains("call 11:", lines);
        Assert.DoesNotContain(lines, l => l.Contains("B1 ", StringComparison.Ordinal));
        Assert.Equal("# 1 of 2 scenarios differ", lines[^2]);
    }

    [Fact]
    public void Diff_of_identical_configurations_is_empty_and_exits_0()
    {
        var (code, output, _) = Luo("diff", "--variant", "mainline", "B3", "C5");
        Assert.Equal(0, code);
        Assert.Equal("# luo diff: mainline (<) vs mainline (>)\n\n# 0 of 2 scenarios differ\n", output);
        Assert.Equal(2, Luo("diff", "A1").Code);
        Assert.Equal(2, Luo("diff", "--variant", "x", "--variant", "y", "--variant", "z").Code);
    }
}
