using LuoModel.Testkit.Concurrency;
using Xunit.Abstractions;

namespace LuoModel.Tests.Concurrency;

/// <summary>
/// Systematic interleaving exploration of the small LUO races (issue 9 §3) with the seeded deterministic
/// scheduler: exhaustive preemption-bounded DFS, then PCT and random schedules. Every schedule must end (no
/// deadlock), keep the luo.md §8 invariants and give the result of some serial order.
/// </summary>
public class InterleavingTests(ITestOutputHelper output)
{
    /// <summary>Bounds per scenario: exhaustive search up to this preemption bound (capped), then sampled schedules.</summary>
    private const int DfsPreemptions = 2, DfsCap = 3000, PctSchedules = 300, RandomSchedules = 300, Seed = 0x109;
    private static readonly TimeSpan PerSchedule = TimeSpan.FromSeconds(10);

    public static TheoryData<string> Scenarios()
    {
        var d = new TheoryData<string>();
        foreach (var s in RaceScenarios.All) d.Add(s.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_explored_schedule_is_serialisable_and_keeps_the_invariants(string name)
    {
        var sc = RaceScenarios.All.Single(s => s.Name == name);
        var reports = new List<ExplorationReport>
        {
            InterleavingExplorer.Explore(sc, new BoundedDfsStrategy(DfsPreemptions), $"dfs(pb={DfsPreemptions})", DfsCap, PerSchedule),
            InterleavingExplorer.Explore(sc, new PctStrategy(Seed, depth: 3, maxSteps: 60, PctSchedules), "pct(d=3)", PctSchedules, PerSchedule),
            InterleavingExplorer.Explore(sc, new RandomStrategy(Seed, RandomSchedules), "random", RandomSchedules, PerSchedule),
        };
        foreach (var r in reports) output.WriteLine(r.ToString());
        foreach (var r in reports) Assert.True(r.Failures.Count == 0, $"{r}\n{string.Join("\n", r.Failures)}");
        Assert.True(reports[0].Complete, $"the bounded DFS of {name} did not finish within {DfsCap} schedules");
        Assert.True(reports[0].Distinct > 1, "the DFS explored a single schedule: no scheduling point was reached");
    }
}
