using LuoModel.Cli;
using LuoModel.Testkit;

namespace LuoModel.Tests.Cli;

/// <summary>The whole-uAPI variants are exempt from the sensitivity table (issue 7 §3); this pins the catalog
/// outcome docs/variants.md lists for them: the unchanged mainline selftest programs against a v4 / rfc kernel.</summary>
public class UapiVariantCatalogTests
{
    [Theory]
    [InlineData("v4")]
    [InlineData("rfc")]
    public void Mainline_selftests_against_an_older_uapi_pass_only_the_device_and_kho_rows(string variant)
    {
        var config = VariantPresets.Build([variant], out string? error);
        Assert.Null(error);
        var report = CatalogRunner.Run(config, ScenarioCatalog.All, trace: false);
        var passed = report.Results.Where(r => r.Outcome == ScenarioOutcome.Pass).Select(r => r.Scenario.Id).ToArray();
        Assert.Equal(["A1", "A2", "A3", "I1+I2"], passed);
        Assert.Equal(35, report.Results.Count(r => r.Outcome == ScenarioOutcome.Fail));
    }
}
