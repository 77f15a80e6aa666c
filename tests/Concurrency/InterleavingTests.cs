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
    /// <summary>Bounds per scenario: exhaustive search up to this preemption bound (capped), then sampled schedules.
    /// LUO_CONCURRENCY_LONG=1 raises them for a local run (preemption bound 3, 5000 PCT and random schedules).</summary>
    private static readonly bool Long = Environment.GetEnvironmentVariable("LUO_CONCURRENCY_LONG") == "1";
    private static readonly int DfsPreemptions = Long ? 3 : 2, DfsCap = Long ? 200_000 : 3000, PctSchedules = Long ? 5000 : 300, RandomSchedules = Long ? 5000 : 300;
    private const int Seed = 0x109;
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
        int distinct = reports.SelectMany(r => r.Keys).Distinct().Count();
        output.WriteLine($"{name}: {reports.Sum(r => r.Schedules)} schedules, {distinct} distinct, {reports[0].SerialOrders} serial orders");
        foreach (var r in reports) Assert.True(r.Failures.Count == 0, $"{r}\n{string.Join("\n", r.Failures)}");
        Assert.True(reports[0].Complete, $"the bounded DFS of {name} did not finish within {DfsCap} schedules");
        Assert.True(reports[0].Distinct > 1, "the DFS explored a single schedule: no scheduling point was reached");
    }
}
