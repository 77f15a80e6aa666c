using FsCheck;
using FsCheck.Experimental;
using FsCheck.Fluent;
using LuoModel.Kernel;
using LuoModel.PropertyTests.Support;
using Xunit.Abstractions;
using LuoModel.Testkit.Histories;

namespace LuoModel.PropertyTests.Luo;

/// <summary>The whole-model state machine (issue 6): a fixed, seeded number of histories in CI;
/// <c>LUO_PROPERTY_RUNS</c> scales it up, <c>LUO_PROPERTY_SEED</c> picks another seed.</summary>
public class LuoMachineTests(ITestOutputHelper output)
{
    /// <summary>Histories per CI run: enough for issue 6 §5's "thousands of histories of length &gt;= 50 across
    /// &gt;= 3 kexecs" (about 92 % of the histories qualify; asserted below).</summary>
    public const int CiHistories = 2200;
    /// <summary>Histories with &gt;= 50 calls and &gt;= 3 kexecs that the CI budget must reach.</summary>
    public const int CiLongHistories = 2000;
    /// <summary>Machine steps per history.</summary>
    public const int Length = 64;
    internal const ulong MachineSeed = 0x1005_2026_0006;

    internal static int Runs(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("LUO_PROPERTY_RUNS"), out int n) && n > 0 ? n : ci;

    internal static MachineStats RunMachine(LuoMutant mutants, int histories, ulong seed, bool shrink, out Exception? failure, int length = Length)
    {
        var stats = new MachineStats();
        shrink &= Environment.GetEnvironmentVariable("LUO_PROPERTY_SHRINK") != "0"; // mutation testing wants speed, not short traces
        var config = Config.QuickThrowOnFailure.WithMaxTest(histories).WithQuietOnSuccess(true).Replay(seed);
        failure = null;
        try { Check.One(config, new LuoMachine(mutants, Seeds.Seed(seed), length, stats, shrink).ToProperty()); }
        catch (Exception e) { failure = e; }
        return stats;
    }

    [Fact]
    public void Whole_model_follows_the_abstract_model_with_faults_everywhere()
    {
        int n = Runs(CiHistories);
        var stats = RunMachine(LuoMutant.None, n, MachineSeed, shrink: true, out var failure);
        output.WriteLine($"{stats.Histories} histories, {stats.Ops} ops, {stats.SuccessfulKexecs} kexecs, {stats.HistoriesWith3Kexecs} with >= 3 kexecs, {stats.LongHistoriesWith3Kexecs} with >= 50 calls and >= 3 kexecs, {stats.FailedReboots} failed reboots; ms: exec {stats.Exec.ElapsedMilliseconds} fingerprint {stats.Fp.ElapsedMilliseconds} state {stats.StateW.ElapsedMilliseconds} invariants {stats.Inv.ElapsedMilliseconds}");
        output.WriteLine(string.Join(", ", stats.Seen.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        if (failure is not null)
        {
            output.WriteLine(stats.Counterexample ?? failure.Message);
            Assert.Fail($"{stats.FailedInvariant}: see the counterexample trace in the test output\n{failure.Message}");
        }
        Assert.True(stats.HistoriesWith3Kexecs * 10 >= stats.Histories * 8, $"only {stats.HistoriesWith3Kexecs} of {stats.Histories} histories reached 3 kexecs");
        Assert.True(stats.FailedReboots >= n / 10, $"only {stats.FailedReboots} failed reboots");
        if (n >= CiHistories)
            Assert.True(stats.LongHistoriesWith3Kexecs >= CiLongHistories * n / CiHistories, $"only {stats.LongHistoriesWith3Kexecs} histories with >= 50 calls and >= 3 kexecs");
    }
}
