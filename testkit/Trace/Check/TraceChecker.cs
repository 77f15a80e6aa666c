using System.Globalization;
using System.Text;
using LuoModel.Kernel;

namespace LuoModel.Testkit.Trace;

/// <summary>Settings of <see cref="TraceChecker.Check"/>.</summary>
public sealed record CheckOptions
{
    /// <summary>The model's configuration for every boot (a variant); null = mainline defaults.</summary>
    public KernelConfig? Config { get; init; }
    /// <summary>Every fd number must match without filling gaps left by calls the recorder does not see.</summary>
    public bool StrictFds { get; init; }
    /// <summary>How many reorderings of overlapping calls of different processes are tried in all.</summary>
    public int MaxReorders { get; init; } = 16;
}

/// <summary>The first call whose observed result the model does not allow.</summary>
/// <param name="Position">0-based position of the entry in the trace's entry list.</param>
/// <param name="Entry">The entry (its <see cref="TraceEntry.Line"/> is the file line).</param>
/// <param name="What">What differs (result, reply bytes, fd number, memfd content, kexec).</param>
/// <param name="Expected">What the model allows.</param>
/// <param name="Observed">What the trace recorded.</param>
/// <param name="Spec">The spec section that decides it.</param>
public sealed record CheckDivergence(int Position, TraceEntry Entry, string What, string Expected, string Observed, string Spec);

/// <summary>Outcome of a trace check.</summary>
/// <param name="Entries">Entries in the trace.</param>
/// <param name="Checked">Calls whose result was compared with the model's.</param>
/// <param name="Applied">Entries that only moved the model along (fd placeholders, memfd state, process
/// starts, forks and exits).</param>
/// <param name="Unknown">Retrieved memfds whose content could not be judged (no stage-end hash).</param>
/// <param name="Divergence">The first divergence, or null.</param>
/// <param name="Notes">Nondeterministic cases accepted, fd gaps filled, kexecs: one line each.</param>
public sealed record CheckReport(int Entries, int Checked, int Applied, int Unknown, CheckDivergence? Divergence, IReadOnlyList<string> Notes)
{
    /// <summary>True when the model allows every observed result.</summary>
    public bool Ok => Divergence is null;

    /// <summary>The report as printed by <c>luo check-trace</c>.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (string n in Notes) sb.Append("note: ").Append(n).Append('\n');
        if (Divergence is { } d)
        {
            sb.Append(CultureInfo.InvariantCulture, $"divergence at line {d.Entry.Line} (entry {d.Position + 1}): {TraceFormat.Call(d.Entry.Op with { Time = null })}\n");
            sb.Append("  what:     ").Append(d.What).Append('\n');
            sb.Append("  model:    ").Append(d.Expected).Append('\n');
            sb.Append("  observed: ").Append(d.Observed).Append('\n');
            sb.Append("  decided by ").Append(d.Spec).Append('\n');
        }
        sb.Append(CultureInfo.InvariantCulture, $"summary: {Entries} entries, {Checked} calls checked, {Applied} applied, {Unknown} memfd contents unknown, {(Ok ? 0 : 1)} divergence(s)");
        if (!Ok) sb.Append(" (checking stops at the first: the model no longer follows the kernel after it)");
        return sb.Append('\n').ToString();
    }
}

/// <summary>
/// <c>luo check-trace</c> (docs/trace-format.md §8): replays a recorded trace on a fresh model machine — a kexec
/// wherever the boot id of the start lines changes — and compares every observed result with the model's.
/// Where two calls of different processes overlapped in time, the kernel may have serialized them either way:
/// the checker then accepts the other order when the model allows it and says so.
/// </summary>
public static class TraceChecker
{
    /// <summary>Checks <paramref name="trace"/> against the model.</summary>
    public static CheckReport Check(TraceFile trace, CheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        options ??= new CheckOptions();
        var order = Enumerable.Range(0, trace.Entries.Count).ToList();
        var notes = new List<string>();
        int budget = options.MaxReorders;
        while (true)
        {
            var run = new CheckRun(trace, order, options);
            var report = run.Execute();
            if (report.Divergence is not { } d || budget <= 0) return report with { Notes = [.. notes, .. report.Notes] };
            // a divergence at a call that overlapped another process's call: try the other serialization
            CheckReport? best = null;
            List<int>? bestOrder = null;
            string? bestNote = null;
            foreach (int k in Overlapping(trace, order, d.Position))
            {
                if (budget-- <= 0) break;
                var alt = Reorder(order, d.Position, k);
                var r = new CheckRun(trace, alt, options).Execute();
                int reached = r.Divergence?.Position ?? int.MaxValue;
                if (reached > Math.Max(d.Position, k) && (best is null || reached > (best.Divergence?.Position ?? int.MaxValue)))
                {
                    best = r;
                    bestOrder = alt;
                    var a = trace.Entries[order[d.Position]];
                    var b = trace.Entries[order[k]];
                    bestNote = string.Create(CultureInfo.InvariantCulture,
                        $"lines {a.Line} (pid {a.Op.Pid}) and {b.Line} (pid {b.Op.Pid}) overlapped in time; the observed results match the model when line {(k > d.Position ? b.Line : a.Line)} ran first, so that order is accepted (nondeterministic serialization)");
                }
            }
            if (best is null) return report with { Notes = [.. notes, .. report.Notes] };
            notes.Add(bestNote!);
            order = bestOrder!;
        }
    }

    /// <summary>Positions near <paramref name="at"/> holding calls of another process that overlap it in time.</summary>
    private static IEnumerable<int> Overlapping(TraceFile trace, List<int> order, int at)
    {
        var e = trace.Entries[order[at]];
        if (e.Op.Time is not { } t) yield break;
        for (int k = Math.Max(0, at - 8); k < Math.Min(order.Count, at + 9); k++)
        {
            if (k == at) continue;
            var o = trace.Entries[order[k]].Op;
            if (o.Pid != e.Op.Pid && o.Time is { } u && u.Overlaps(t) && o is IoctlOp or OpenOp or CloseOp) yield return k;
        }
    }

    /// <summary>The order with the later of positions <paramref name="a"/>, <paramref name="b"/> moved in front of the earlier.</summary>
    private static List<int> Reorder(List<int> order, int a, int b)
    {
        int lo = Math.Min(a, b), hi = Math.Max(a, b);
        var list = new List<int>(order);
        int moved = list[hi];
        list.RemoveAt(hi);
        list.Insert(lo, moved);
        return list;
    }
}
