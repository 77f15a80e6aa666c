using LuoModel.Kernel;
using LuoModel.Testkit.Trace;
using Xunit.Abstractions;
using LuoModel.Testkit.Histories;

namespace LuoModel.PropertyTests.Luo;

/// <summary>
/// Proof that the machine can fail (issue 6 §4): each deliberately wrong model (a TEST-ONLY
/// <see cref="LuoMutant"/>) must be caught by the same machine, seed and budget as CI, deterministically.
/// </summary>
public class MutantTests(ITestOutputHelper output)
{
    /// <summary>Histories a mutant may survive at most.</summary>
    public const int Budget = 400;

    public static TheoryData<string> Mutants()
    {
        var d = new TheoryData<string>();
        foreach (var m in Enum.GetValues<LuoMutant>())
            if (m != LuoMutant.None) d.Add(m.ToString());
        return d;
    }

    [Theory]
    [MemberData(nameof(Mutants))]
    public void Mutant_is_killed(string mutant)
    {
        var m = Enum.Parse<LuoMutant>(mutant);
        var stats = LuoMachineTests.RunMachine(m, Budget, LuoMachineTests.MachineSeed, shrink: false, out var failure);
        output.WriteLine($"{mutant}: killed by {stats.FailedInvariant ?? "nothing"} after {stats.Histories} histories");
        Assert.True(failure is not null, $"mutant {mutant} survived {stats.Histories} histories");
        // the counterexample is a replayable trace: on the mutant it diverges, on the correct model it reproduces
        var trace = TraceFormat.Parse(stats.Counterexample!);
        Assert.Equal(m, trace.Mutants);
        Assert.False(TraceReplayer.Run(trace).Ok, "the counterexample does not reproduce on the mutant");
        var fixedModel = TraceReplayer.Run(trace with { Mutants = LuoMutant.None });
        Assert.True(fixedModel.Ok, fixedModel.Describe());
    }

    [Fact]
    public void Shrunk_counterexample_is_short_and_replays()
    {
        var stats = LuoMachineTests.RunMachine(LuoMutant.UnfreezeFilesBackward, Budget, LuoMachineTests.MachineSeed, shrink: true, out var failure, length: 24);
        Assert.NotNull(failure);
        output.WriteLine(stats.Counterexample);
        var trace = TraceFormat.Parse(stats.Counterexample!);
        Assert.True(trace.Entries.Count <= 40, $"shrunk trace has {trace.Entries.Count} calls");
        Assert.Equal("I12_freeze_unfreeze_order", stats.FailedInvariant);
        Assert.Contains("seed 0x", stats.Counterexample, StringComparison.Ordinal);
        var outcome = TraceReplayer.Run(trace);
        Assert.False(outcome.Ok);
        Assert.True(TraceReplayer.Run(trace with { Mutants = LuoMutant.None }).Ok);
    }
}
