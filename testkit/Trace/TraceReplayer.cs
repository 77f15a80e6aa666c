using LuoModel.Testkit.Invariants;

namespace LuoModel.Testkit.Trace;

/// <summary>What a replay found: the number of entries that reproduced, and the first divergence if any.</summary>
public sealed record ReplayOutcome(int Reproduced, int Total, TraceEntry? Diverged, TraceResult? Actual, InvariantViolation? Violation)
{
    /// <summary>True when every entry reproduced and no invariant broke.</summary>
    public bool Ok => Diverged is null;

    /// <summary>A one-paragraph report.</summary>
    public string Describe()
    {
        if (Diverged is null) return $"all {Total} ops reproduced";
        string where = $"op {Reproduced + 1} (line {Diverged.Line}): {TraceFormat.Call(Diverged.Op)}";
        if (Violation is not null) return $"{where}\n  invariant {Violation}";
        return $"{where}\n  expected: = {TraceFormat.Line(Diverged.Op, Diverged.Result).Split(" = ", 2)[^1]}\n  actual:   = {TraceFormat.Line(Diverged.Op, Actual!).Split(" = ", 2)[^1]}";
    }
}

/// <summary>Re-runs a trace on a fresh machine and compares every result (docs/trace-format.md §5).</summary>
public static class TraceReplayer
{
    /// <summary>Replays <paramref name="trace"/>; stops at the first entry whose result differs, or (with
    /// <paramref name="checkInvariants"/>) whose step breaks a structural invariant.</summary>
    public static ReplayOutcome Run(TraceFile trace, bool checkInvariants = true)
    {
        ArgumentNullException.ThrowIfNull(trace);
        var target = TraceTarget.ColdBoot(trace.Mutants);
        for (int i = 0; i < trace.Entries.Count; i++)
        {
            var e = trace.Entries[i];
            TraceResult actual;
            var handler = target.Panicked ? null : target.Kernel.TestHandler;
            int logStart = handler?.Log.Count ?? 0;
            try { actual = target.Execute(e.Op); }
            catch (InvalidOperationException ex) { return new ReplayOutcome(i, trace.Entries.Count, e, new TraceResult(long.MinValue), new InvariantViolation("model_usage", ex.Message)); }
            if (!actual.Equals(e.Result)) return new ReplayOutcome(i, trace.Entries.Count, e, actual, null);
            if (e.Calls is not null && e.Op is not (KexecOp or ColdBootOp))
            {
                var calls = handler is null ? [] : handler.Log.Skip(logStart).Select(r => TraceProbes.Call(r.Op, r.Tag, r.Token, r.Result)).ToList();
                if (!calls.SequenceEqual(e.Calls))
                    return new ReplayOutcome(i, trace.Entries.Count, e, actual, new InvariantViolation("handler_calls", $"[{string.Join("; ", calls)}], trace says [{string.Join("; ", e.Calls)}]"));
            }
            foreach (var (key, value) in e.Expects)
            {
                string? got = TraceProbes.Evaluate(target, key);
                if (got != value) return new ReplayOutcome(i, trace.Entries.Count, e, actual, new InvariantViolation($"expect {key}", $"{got ?? "(unknown probe)"}, trace says {value}"));
            }
            if (checkInvariants && LuoInvariants.Check(target) is { Count: > 0 } v) return new ReplayOutcome(i, trace.Entries.Count, e, actual, v[0]);
        }
        return new ReplayOutcome(trace.Entries.Count, trace.Entries.Count, null, null, null);
    }
}
