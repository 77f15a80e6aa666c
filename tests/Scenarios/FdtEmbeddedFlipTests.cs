using LuoModel.Cli;
using LuoModel.Testkit;

namespace LuoModel.Tests.Scenarios;

/// <summary>Issue 7 / scenarios.md §2: the embedded rows whose "where" column names every two-stage program
/// (B8, C6, C7, D3) or the stress programs (D1: luo_stress_files, D2: luo_stress_sessions) flip under the
/// FDT-era fixed arrays, because luo_stress_files cannot preserve its 129th memfd (ENOSPC, luo.md §3.6 step 2)
/// and luo_stress_sessions cannot create its 820th session (ENOMEM, luo.md §3.4 step 6).</summary>
public class FdtEmbeddedFlipTests
{
    [Fact]
    public void Fixed_arrays_flip_the_embedded_rows_that_read_the_stress_programs()
    {
        var config = VariantPresets.Build(["fdt-v1"], out string? error);
        Assert.Null(error);
        var report = CatalogRunner.Run(config, ScenarioCatalog.Embedded, trace: true);
        var flipped = report.Results.Where(r => r.Outcome != ScenarioOutcome.Pass).ToList();
        Assert.True(flipped.Select(r => r.Scenario.Id).SequenceEqual(["B8", "C6", "C7", "D1", "D2", "D3", "E1", "E4"]), string.Join("\n", flipped));
        var c6 = report.Results.Single(r => r.Scenario.Id == "C6");
        Assert.Contains(c6.Steps, s => !s.Passed && s.Name == "luo_stress_files -s 1: create_and_preserve_memfd(token 128)");
        var d2 = report.Results.Single(r => r.Scenario.Id == "D2");
        Assert.Contains(d2.Steps, s => !s.Passed && s.Name == "luo_stress_sessions -s 1: luo_create_session(\"many-test-818\")");
    }
}
