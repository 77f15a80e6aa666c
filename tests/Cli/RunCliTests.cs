using LuoModel.Cli;

namespace LuoModel.Tests.Cli;

/// <summary><c>luo run</c> (issue 7 §2): KTAP as kselftest prints it, kselftest exit status, named variants.</summary>
public class RunCliTests
{
    private static (int Code, string Out, string Err) Luo(params string[] args) => LuoModel.Tests.Cli.LuoCli.Run(args);

    [Fact]
    public void Mainline_rows_pass_with_kselftest_header_plan_and_totals()
    {
        var (code, output, err) = Luo("run", "A1", "b5", "create_session_empty_name", "F1");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Equal(
            "TAP version 13\n# variant: mainline\n1..4\nok 1 A1 basic_open_close\nok 2 B5 get_session_name\n" +
            "ok 3 B4 create_session_empty_name\nok 4 F1 luo_kexec_simple\n# Totals: pass:4 fail:0 xfail:0 xpass:0 skip:0 error:0\n",
            output);
    }

    [Fact]
    public void Composed_variants_fail_the_listed_rows_and_exit_1()
    {
        var (code, output, _) = Luo("run", "--variant", "no-name-check", "--variant", "no-double-preserve", "B3", "B4", "C5", "B1");
        Assert.Equal(1, code);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("# variant: no-name-check no-double-preserve", lines[1]);
        Assert.Contains("# create_session_empty_name: luo_create_session(\"\"): expected -EINVAL, got 4", lines);
        Assert.Contains("not ok 2 B4 create_session_empty_name", lines);
        Assert.Contains("not ok 1 B3 create_session_no_null_termination", lines);
        Assert.Contains("not ok 3 C5 prevent_double_preservation", lines);
        Assert.Contains("ok 4 B1 create_duplicate_session", lines);
        Assert.Equal("# Totals: pass:1 fail:3 xfail:0 xpass:0 skip:0 error:0", lines[^1]);
    }

    [Fact]
    public void Everything_skipped_exits_4()
    {
        var (code, output, _) = Luo("run", "--variant", "liveupdate=absent", "F1", "G1");
        Assert.Equal(4, code);
        Assert.Contains("ok 1 F1 luo_kexec_simple # SKIP ", output, StringComparison.Ordinal);
        Assert.EndsWith("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:2 error:0\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_scenario_variant_or_conflict_is_a_usage_error()
    {
        Assert.Equal((2, "", "luo run: no scenario \"Z9\" (ids A1 … I, upstream names, \"mainline\" or \"all\")\n"), Luo("run", "Z9"));
        var (code, output, err) = Luo("run", "--variant", "bogus", "A1");
        Assert.Equal((2, ""), (code, output));
        Assert.StartsWith("luo run: unknown variant \"bogus\"", err, StringComparison.Ordinal);
        (code, _, err) = Luo("run", "--variant", "fdt-v1", "--variant", "abi=luo_v5", "A1");
        Assert.Equal(2, code);
        Assert.Equal("luo run: variants \"fdt-v1\" and \"abi=luo_v5\" conflict on abi\n", err);
    }

    [Fact]
    public void Fdt_era_variant_fails_H1_and_the_list_names_every_preset()
    {
        var (code, output, _) = Luo("run", "--variant", "fdt-v1", "H1", "A1");
        Assert.Equal(1, code);
        Assert.Contains("not ok 1 H1 preserve_many_sessions\nok 2 A1 basic_open_close\n", output, StringComparison.Ordinal);
        (code, output, _) = Luo("run", "--list-variants");
        Assert.Equal(0, code);
        foreach (var p in VariantPresets.All) Assert.Contains(p.Name + " ", output, StringComparison.Ordinal);
    }
}
