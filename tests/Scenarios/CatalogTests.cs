using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit;

namespace LuoModel.Tests.Scenarios;

/// <summary>The catalog as a whole: counts of scenarios.md §3, every row under N, variant sensitivity of §4,
/// KTAP output and step-by-step comparison.</summary>
public class CatalogTests
{
    [Fact]
    public void Catalog_counts_match_scenarios_md_section_3()
    {
        var all = ScenarioCatalog.All;
        Assert.Equal(39, all.Count);
        Assert.Equal(20, ScenarioCatalog.Mainline.Count);
        Assert.Equal(19, ScenarioCatalog.Embedded.Count);
        Assert.Equal(15, all.Count(s => s.Kind == ScenarioKind.HarnessTest));
        Assert.Equal(4, all.Count(s => s.Kind == ScenarioKind.TwoStageProgram));
        Assert.Equal(1, all.Count(s => s.Kind == ScenarioKind.KhoModule));
        var perArea = all.GroupBy(s => s.Area).ToDictionary(g => g.Key, g => (Mainline: g.Count(s => s.IsMainline), Embedded: g.Count(s => !s.IsMainline)));
        Assert.Equal((2, 2), perArea['A']);
        Assert.Equal((6, 2), perArea['B']);
        Assert.Equal((5, 2), perArea['C']);
        Assert.Equal((0, 4), perArea['D']);
        Assert.Equal((0, 9), perArea['E']);
        Assert.Equal((1, 0), perArea['F']);
        Assert.Equal((1, 0), perArea['G']);
        Assert.Equal((4, 0), perArea['H']);
        Assert.Equal((1, 0), perArea['I']);
        Assert.Equal(all.Count, all.Select(s => s.Id).Distinct().Count());
        Assert.Equal(LiveupdateHarness.Tests.Select(t => t.Name).Order(), all.OfType<HarnessScenario>().Select(s => s.UpstreamName).Order());
        Assert.Equal(Enumerable.Range(1, 15), LiveupdateHarness.Tests.Select(t => t.Number));
        Assert.Same(ScenarioCatalog.Get("I1+I2"), ScenarioCatalog.Get("I"));
        Assert.Same(ScenarioCatalog.Get("B1"), ScenarioCatalog.Get("create_duplicate_session"));
        Assert.Null(ScenarioCatalog.Find("Z9"));
    }

    [Fact]
    public void Whole_catalog_passes_under_mainline_N()
    {
        var results = ScenarioCatalog.All.Select(s => ScenarioResults.Get(s.Id)).ToList();
        var report = new CatalogReport(new KernelConfig(), results);
        Assert.True(report.Failed == 0 && report.Skipped == 0, string.Join("\n", results.Where(r => r.Outcome != ScenarioOutcome.Pass).Select(r => r.Summary)));
        Assert.Equal(39, report.Passed);
        Assert.Equal(20, results.Count(r => r.Scenario.IsMainline && r.Outcome == ScenarioOutcome.Pass));
        var ktap = new StringWriter();
        CatalogRunner.WriteKtap(report, ktap);
        string[] lines = ktap.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["KTAP version 1", "1..39", "ok 1 A1 basic_open_close", "ok 2 A2 exclusive_open"], lines[..4]);
        Assert.Equal("ok 39 I1+I2 test_kho", lines[^2]);
        Assert.Equal("# totals: pass:39 fail:0 skip:0", lines[^1]);
    }

    [Fact]
    public void No_name_validation_fails_B3_and_B4_with_the_failing_step()
    {
        var config = new KernelConfig { Luo = new LuoOptions { NameCheck = false } };
        var report = CatalogRunner.Run(config, [ScenarioCatalog.Get("B3"), ScenarioCatalog.Get("B4"), ScenarioCatalog.Get("B1")]);
        Assert.Equal([ScenarioOutcome.Fail, ScenarioOutcome.Fail, ScenarioOutcome.Pass], report.Results.Select(r => r.Outcome));
        var b3 = report.Results[0].FirstFailure!;
        Assert.Equal("create_session_no_null_termination: ioctl(CREATE_SESSION) with 64 'X' and no NUL", b3.Name);
        Assert.Equal(("< 0", "0"), (b3.Expected, b3.Actual));
        var b4 = report.Results[1].FirstFailure!;
        Assert.Equal(("-EINVAL", "4"), (b4.Expected, b4.Actual));
        var ktap = new StringWriter();
        CatalogRunner.WriteKtap(report, ktap);
        Assert.Contains("# B4: create_session_empty_name: luo_create_session(\"\"): expected -EINVAL, got 4\nnot ok 2 B4 create_session_empty_name\n", ktap.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void No_double_preservation_check_fails_C5()
    {
        var r = ScenarioCatalog.Get("C5").Run(new KernelConfig { Luo = new LuoOptions { DoublePreserve = DoublePreserveCheck.None } });
        Assert.Equal(ScenarioOutcome.Fail, r.Outcome);
        Assert.Equal(("prevent_double_preservation: luo_session_preserve_fd(session_fd2, mem_fd, 0x2222)", "-EBUSY", "0"),
            (r.FirstFailure!.Name, r.FirstFailure.Expected, r.FirstFailure.Actual));
    }

    [Fact]
    public void Fdt_era_fixed_arrays_fail_H1_to_H4()
    {
        var config = new KernelConfig { Luo = new LuoOptions { Abi = LuoAbi.FdtV1 } };
        var report = CatalogRunner.Run(config, new[] { "H1", "H2", "H3", "H4", "F1" }.Select(ScenarioCatalog.Get));
        Assert.Equal([ScenarioOutcome.Fail, ScenarioOutcome.Fail, ScenarioOutcome.Fail, ScenarioOutcome.Fail, ScenarioOutcome.Pass], report.Results.Select(r => r.Outcome));
        Assert.Equal(("preserve_many_sessions: luo_create_session(\"many-session-819\")", "-ENOMEM"), (report.Results[0].FirstFailure!.Name, report.Results[0].FirstFailure!.Actual));
        Assert.Equal(("preserve_many_files: luo_session_preserve_fd(session_fd, mem_fds[128], 128)", "-ENOSPC"), (report.Results[1].FirstFailure!.Name, report.Results[1].FirstFailure!.Actual));
        Assert.Equal("-ENOMEM", report.Results[2].FirstFailure!.Actual);  // 2001st session of luo_stress_sessions stage 1
        Assert.Equal("-ENOSPC", report.Results[3].FirstFailure!.Actual);
        Assert.Contains(report.Results[2].Output, l => l.StartsWith("Bail out! luo_create_session for 'many-test-818' at index 818", StringComparison.Ordinal));
    }

    [Fact]
    public void Failed_deserialization_turns_two_stage_programs_into_skips()
    {
        var next = new KernelConfig();
        next.Faults.FailNth(FaultPoint.DeserializeFileAlloc, 1, Errno.ENOMEM);
        var probe = new EmbeddedScenario("Z1", "deserialization_failure", "test", "luo_kexec_simple after a failed deserialization",
            r => TwoStageProgram.KexecSimple.RunBothStages(r, r.NewMachine(), next));
        var sandbox = probe.Run();
        Assert.Equal(ScenarioOutcome.Skip, sandbox.Outcome);
        Assert.Equal("Failed to open /dev/liveupdate (EIO)", sandbox.SkipReason);
        Assert.Contains("1..0 # SKIP Failed to open /dev/liveupdate (EIO)", sandbox.Output);
    }

    [Fact]
    public void Compare_reports_the_first_differing_step_and_call()
    {
        var b3 = ScenarioCatalog.Get("B3");
        var same = CatalogRunner.Compare(b3, new KernelConfig(), new KernelConfig());
        Assert.True(same.Identical);
        Assert.True(same.Trace.Equal);
        var diff = CatalogRunner.Compare(b3, new KernelConfig(), new KernelConfig { Luo = new LuoOptions { NameCheck = false } });
        Assert.False(diff.Identical);
        Assert.Equal(1, diff.FirstStepDifference);
        Assert.Equal(9, diff.Trace.Index); // the CREATE_SESSION ioctl
        Assert.Equal("-EINVAL", diff.Trace.Left!.ResultText);
        Assert.Equal("0", diff.Trace.Right!.ResultText);
        Assert.Equal(diff.Left.Trace.Count, diff.Right.Trace.Count); // the stray session fd is released by the exit, no extra call
    }

    [Fact]
    public void Trace_can_be_disabled_and_runs_stay_deterministic()
    {
        var f1 = ScenarioCatalog.Get("F1");
        var quiet = f1.Run(trace: false);
        Assert.Equal(ScenarioOutcome.Pass, quiet.Outcome);
        Assert.Equal(0, quiet.Trace.Count);
        var again = f1.Run();
        Assert.True(SyscallLog.Compare(ScenarioResults.Get("F1").Trace, again.Trace).Equal);
        var w = new StringWriter();
        again.Trace.WriteTo(w);
        Assert.Equal(again.Trace.Lines(), w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
