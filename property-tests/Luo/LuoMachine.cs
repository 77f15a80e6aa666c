using System.Collections.Immutable;
using System.Text;
using FsCheck;
using FsCheck.Experimental;
using FsCheck.Fluent;
using Microsoft.FSharp.Collections;
using LuoModel.Kernel;
using LuoModel.Testkit.Invariants;
using LuoModel.Testkit.Trace;
using LuoModel.Testkit.Histories;
using Outcome = LuoModel.Testkit.Histories.Outcome;

namespace LuoModel.PropertyTests.Luo;

/// <summary>The system under test: a trace machine plus the history executed so far (for the counterexample).</summary>
internal sealed class LuoSut(LuoMutant mutants, ulong seed)
{
    public TraceTarget Target { get; } = TraceTarget.ColdBoot(mutants);
    public List<TraceEntry> History { get; } = [];
    public ulong Seed { get; } = seed;
    public LuoMutant Mutants { get; } = mutants;
    public bool Failed { get; set; }
    public int Kexecs { get; set; }
    /// <summary>Set once the history has both &gt;= 50 calls and &gt;= 3 successful kexecs (issue 6 §5 budget).</summary>
    public bool Long { get; set; }
}

/// <summary>Statistics and the latest counterexample of a machine (read by the tests).</summary>
internal sealed class MachineStats
{
    public int Histories;
    public int Ops;
    public int HistoriesWith3Kexecs;
    /// <summary>Histories that reached &gt;= 50 calls and &gt;= 3 successful kexecs.</summary>
    public int LongHistoriesWith3Kexecs;
    public int FailedReboots;
    public int SuccessfulKexecs;
    public string? Counterexample;
    public string? FailedInvariant;
    public readonly Dictionary<string, int> Seen = [];
    public readonly System.Diagnostics.Stopwatch Exec = new(), Fp = new(), StateW = new(), Inv = new();
}

/// <summary>
/// The FsCheck 3 state machine over the whole kernel model (issue 6): every operation is one or more trace
/// calls; <see cref="ModelStep"/> predicts each result, the real model runs it, and after every step the
/// results, the observable state, the test handler's calls and every structural invariant are compared.
/// </summary>
internal sealed class LuoMachine(LuoMutant mutants, ulong seed, int length, MachineStats stats, bool shrink = true)
    : Machine<LuoSut, Model>(length)
{
    public override Arbitrary<Setup<LuoSut, Model>> Setup =>
        Gen.Constant<Setup<LuoSut, Model>>(new Fresh(mutants, seed, stats)).ToArbitrary();

    public override Gen<Operation<LuoSut, Model>> Next(Model m) =>
        LuoGen.Next(m).Select(ops => (Operation<LuoSut, Model>)new Step(ops, stats));

    public override IEnumerable<FSharpList<Operation<LuoSut, Model>>> ShrinkOperations(FSharpList<Operation<LuoSut, Model>> s) =>
        shrink ? base.ShrinkOperations(s) : [];

    private sealed class Fresh(LuoMutant mutants, ulong seed, MachineStats stats) : Setup<LuoSut, Model>
    {
        public override LuoSut Actual()
        {
            stats.Histories++;
            return new LuoSut(mutants, seed);
        }
        public override Model Model() => LuoModel.Testkit.Histories.Model.ColdBoot();
        public override string ToString() => "coldboot";
    }

    /// <summary>One machine step: a batch of trace calls (usually one).</summary>
    internal sealed class Step(TraceOp[] ops, MachineStats stats) : Operation<LuoSut, Model>
    {
        public TraceOp[] Ops { get; } = ops;

        public override bool Pre(Model m) => Ops[0] switch
        {
            ColdBootOp => true,
            KexecOp => m.Phase == Phase.Frozen,
            _ => m.Phase != Phase.Panicked,
        };

        public override Model Run(Model m)
        {
            var outs = ImmutableList.CreateBuilder<Outcome>();
            foreach (var op in Ops)
            {
                if (op is KexecOp && m.Phase != Phase.Frozen) break;
                if (op is not ColdBootOp && m.Phase == Phase.Panicked) break;
                m = ModelStep.Run(m, op);
                outs.Add(m.Last);
            }
            return m with { Batch = outs.ToImmutable() };
        }

        public override Property Check(LuoSut sut, Model m)
        {
            if (sut.Failed) return true.ToProperty();
            var t = sut.Target;
            for (int i = 0; i < m.Batch.Count; i++)
            {
                var op = Ops[i];
                var expect = m.Batch[i];
                stats.Fp.Start();
                string? before = op is IoctlOp or RebootOp && !t.Panicked && expect.Value < 0 && !expect.Exception ? LuoChecks.Fingerprint(t) : null;
                stats.Fp.Stop();
                var handler = t.Panicked ? null : t.Kernel.TestHandler;
                int logStart = handler?.Log.Count ?? 0;
                TraceResult actual;
                stats.Exec.Start();
                try { actual = t.Execute(op); }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException or InsufficientMemoryException)
                {
                    return Fail(sut, i, expect, new TraceResult(long.MinValue), "model_usage", e.Message);
                }
                finally { stats.Exec.Stop(); }
                stats.Ops++;
                sut.History.Add(Entry(op, expect));
                if (op is KexecOp && actual.Value == 0) { sut.Kexecs++; stats.SuccessfulKexecs++; if (sut.Kexecs == 3) stats.HistoriesWith3Kexecs++; }
                if (!sut.Long && sut.Kexecs >= 3 && sut.History.Count >= 50) { sut.Long = true; stats.LongHistoriesWith3Kexecs++; }
                if (op is RebootOp && expect.Value < 0) stats.FailedReboots++;
                foreach (var c in expect.Calls) stats.Seen[c.Op.ToString()] = stats.Seen.GetValueOrDefault(c.Op.ToString()) + 1;
                string kind = op is IoctlOp io2 ? TraceFormat.CommandName(io2.Cmd) + "=" + TraceFormat.Value(expect.Value) : op.GetType().Name;
                stats.Seen[kind] = stats.Seen.GetValueOrDefault(kind) + 1;
                if (actual.Value != expect.Value)
                    return Fail(sut, i, expect, actual, ValueInvariant(op, expect), $"returned {TraceFormat.Value(actual.Value)}, model {TraceFormat.Value(expect.Value)}");
                if (!actual.Equals(new TraceResult(expect.Value, expect.Data)))
                    return Fail(sut, i, expect, actual, op switch { PreadOp => "I18_memfd_round_trip", KhoRestoreOp => "K13_preserved_bytes", _ => "I7_reply_bytes" }, "output bytes differ");
                var calls = handler is null || op is KexecOp or ColdBootOp ? [] : handler.Log.Skip(logStart).Select(r => new HCall(r.Op, r.Token, r.Tag, r.Result)).ToList();
                if (!calls.SequenceEqual(expect.Calls))
                    return Fail(sut, i, expect, actual, op switch
                    {
                        RebootOp => "I12_freeze_unfreeze_order",
                        IoctlOp { Cmd: LiveupdateUapi.Finish } or CloseOp => "I21_finish_releases_exactly",
                        _ => "I6_handler_calls",
                    }, $"handler calls [{string.Join(", ", calls)}], model [{string.Join(", ", expect.Calls)}]");
                if (before is not null && expect.Value < 0 && expect.Value != TraceResult.Frozen && !expect.Exception && before != LuoChecks.Fingerprint(t))
                    return Fail(sut, i, expect, actual, op is RebootOp ? "I11_failed_serialize_restores_state" : "I5_failed_ioctl_changes_nothing", "state changed by a failed call");
            }
            if (m.Batch.Count == 0) return true.ToProperty();
            var last = m.Batch[^1];
            stats.StateW.Start();
            var bad = LuoChecks.State(t, m);
            stats.StateW.Stop();
            if (bad is not null) return Fail(sut, m.Batch.Count - 1, last, null, bad.Value.Name, bad.Value.Detail, m);
            stats.Inv.Start();
            bool pure = Ops.All(o => o is FailNthOp or TestFileOp or TestFileFlagsOp or LseekOp or PreadOp or DupOp or SetrlimitOp or MemfdCreateOp or AddSealsOp);
            var v = LuoInvariants.Check(t, kho: !pure);
            stats.Inv.Stop();
            if (v.Count > 0) return Fail(sut, m.Batch.Count - 1, last, null, v[0].Name, v[0].Detail, m);
            return true.ToProperty();
        }

        private static string ValueInvariant(TraceOp op, Outcome expect) => op switch
        {
            _ when expect.Value == TraceResult.Frozen => "I13_frozen_after_success",
            KexecOp => "I17_panic_outcome",
            KhoRestoreOp => "K11_restore_once",
            RebootOp => "I11_failed_serialize_restores_state",
            _ => "I6_errno_precedence",
        };

        private static TraceEntry Entry(TraceOp op, Outcome expect) => new(op, new TraceResult(expect.Value, expect.Data))
        {
            Calls = expect.Calls.Count > 0 ? [.. expect.Calls.Select(c => TraceProbes.Call(c.Op, c.Tag, c.Token, c.Result))] : null,
        };

        private Property Fail(LuoSut sut, int index, Outcome expect, TraceResult? actual, string name, string detail, Model? model = null)
        {
            sut.Failed = true;
            if (sut.History.Count == 0 || !ReferenceEquals(sut.History[^1].Op, Ops[index]))
                sut.History.Add(Entry(Ops[index], expect));
            if (model is not null)
                sut.History[^1] = sut.History[^1] with { Expects = [.. TraceProbes.Keys.Select(k => (k, ModelProbes.Evaluate(model, k)))] };
            var comments = new List<string> { $"{name}: {detail}" };
            if (actual is not null) comments.Add($"last op actually returned: {TraceFormat.Line(Ops[index], actual)}");
            comments.Add("results are the abstract model's; `luo replay FILE` re-runs the calls");
            string trace = TraceFormat.Print(sut.History, sut.Seed, sut.Mutants, comments);
            stats.Counterexample = trace;
            stats.FailedInvariant = name;
            return false.ToProperty().Label($"{name}: {detail}\n{trace}");
        }

        public override string ToString() => string.Join(" ; ", Ops.Select(TraceFormat.Call));
    }
}
