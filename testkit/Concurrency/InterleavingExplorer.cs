using LuoModel.Testkit.Invariants;

namespace LuoModel.Testkit.Concurrency;

/// <summary>What an exploration of one race under one strategy found.</summary>
/// <param name="Scenario">Race name.</param>
/// <param name="Strategy">Strategy label.</param>
/// <param name="Schedules">Schedules run.</param>
/// <param name="Distinct">Distinct schedules among them (by their choice sequences).</param>
/// <param name="SerialOrders">Serial orders (interleavings of the tasks' atomic parts) the results were compared with.</param>
/// <param name="SerialOutcomes">Distinct outcomes of those serial orders.</param>
/// <param name="Outcomes">Distinct outcomes seen under the scheduler.</param>
/// <param name="Complete">True when an exhaustive (bounded DFS) search finished.</param>
/// <param name="Failures">Deadlocks, exceptions, invariant violations and outcomes no serial order gives.</param>
/// <param name="Keys">The distinct schedules (choice sequences).</param>
public sealed record ExplorationReport(string Scenario, string Strategy, int Schedules, int Distinct, int SerialOrders, int SerialOutcomes,
    int Outcomes, bool Complete, IReadOnlyList<string> Failures, IReadOnlyCollection<string> Keys)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Scenario,-26} {Strategy,-12} schedules {Schedules,6} distinct {Distinct,6}{(Complete ? " (exhaustive)" : "")} outcomes {Outcomes}/{SerialOutcomes} serial, {Failures.Count} failures";
}

/// <summary>
/// Runs a <see cref="RaceScenario"/> under the <see cref="DeterministicScheduler"/> for many schedules and checks
/// each: no deadlock, no exception, the luo.md §8 structural invariants (<see cref="LuoInvariants"/>), and that the
/// results and final state equal those of some serial order of the same steps (linearisability).
/// </summary>
public static class InterleavingExplorer
{
    /// <summary>Every interleaving of the tasks' atomic parts (<see cref="RaceStep.Parts"/>) that keeps each
    /// task's program order, as (task, step, part) sequences.</summary>
    public static List<List<(int Task, int Step, int Part)>> SerialOrders(RaceScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var parts = scenario.Tasks.Select(steps => steps.SelectMany((st, j) => st.Parts.Select((_, q) => (j, q))).ToList()).ToList();
        var all = new List<List<(int, int, int)>>();
        var next = new int[parts.Count];
        var cur = new List<(int, int, int)>();
        void Rec()
        {
            bool any = false;
            for (int t = 0; t < next.Length; t++)
            {
                if (next[t] >= parts[t].Count) continue;
                any = true;
                var (j, q) = parts[t][next[t]++];
                cur.Add((t, j, q));
                Rec();
                next[t]--;
                cur.RemoveAt(cur.Count - 1);
            }
            if (!any) all.Add([.. cur]);
        }
        Rec();
        return all;
    }

    private static int[] Offsets(RaceScenario sc)
    {
        var off = new int[sc.Tasks.Count + 1];
        for (int t = 0; t < sc.Tasks.Count; t++) off[t + 1] = off[t] + sc.Tasks[t].Count;
        return off;
    }

    /// <summary>The digests of every serial order.</summary>
    public static HashSet<string> SerialDigests(RaceScenario scenario, out int orders)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var off = Offsets(scenario);
        var set = new HashSet<string>(StringComparer.Ordinal);
        var all = SerialOrders(scenario);
        orders = all.Count;
        foreach (var order in all)
        {
            var w = scenario.Setup(scenario.Tasks.Count);
            var results = new long[off[^1]];
            foreach (var (t, s, q) in order) results[off[t] + s] = scenario.Tasks[t][s].Parts[q](w, t);
            set.Add(RaceScenarios.Digest(w, results));
        }
        return set;
    }

    /// <summary>Explores up to <paramref name="maxSchedules"/> schedules of <paramref name="scenario"/>.</summary>
    public static ExplorationReport Explore(RaceScenario scenario, IScheduleStrategy strategy, string label, int maxSchedules, TimeSpan perSchedule)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(strategy);
        var serial = SerialDigests(scenario, out int orders);
        var off = Offsets(scenario);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var outcomes = new HashSet<string>(StringComparer.Ordinal);
        var failures = new List<string>();
        int n = 0;
        bool complete = false;
        while (true)
        {
            var w = scenario.Setup(scenario.Tasks.Count);
            var results = new long[off[^1]];
            var bodies = scenario.Tasks.Select((steps, i) => (Action)(() =>
            {
                for (int j = 0; j < steps.Count; j++) results[off[i] + j] = steps[j].Run(w, i);
            })).ToList();
            var outcome = new DeterministicScheduler(strategy).Run(bodies, perSchedule);
            n++;
            keys.Add(outcome.Key);
            if (outcome.Failure is not null) failures.Add($"schedule [{outcome.Key}]: {outcome.Failure}");
            else
            {
                var v = LuoInvariants.Check(w.Target);
                if (v.Count > 0) failures.Add($"schedule [{outcome.Key}]: invariants: {string.Join("; ", v)}");
                string d = RaceScenarios.Digest(w, results);
                outcomes.Add(d);
                if (!serial.Contains(d)) failures.Add($"schedule [{outcome.Key}]: no serial order gives\n{d}");
            }
            if (failures.Count >= 5) break;
            if (!strategy.EndSchedule()) { complete = strategy is BoundedDfsStrategy; break; }
            if (n >= maxSchedules) break;
        }
        return new ExplorationReport(scenario.Name, label, n, keys.Count, orders, serial.Count, outcomes.Count, complete, failures, keys);
    }
}
