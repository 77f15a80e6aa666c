using FsCheck;
using FsCheck.Fluent;
using LuoModel.Kernel;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Histories;

/// <summary>Where two configurations first disagree on one history.</summary>
/// <param name="Index">0-based index of the op in the history.</param>
/// <param name="Op">The op.</param>
/// <param name="Left">Its trace line under the left configuration (call, result, reply bytes).</param>
/// <param name="Right">Its trace line under the right configuration.</param>
public sealed record HistoryDivergence(int Index, TraceOp Op, string Left, string Right);

/// <summary>One seeded history run under two configurations.</summary>
/// <param name="Number">1-based number of the history in its set.</param>
/// <param name="Seed">The seed it was generated from.</param>
/// <param name="Ops">The ops.</param>
/// <param name="Divergence">The first op whose result differs, or null when every result is equal.</param>
public sealed record HistoryComparison(int Number, ulong Seed, IReadOnlyList<TraceOp> Ops, HistoryDivergence? Divergence);

/// <summary>
/// Seeded random histories from the property-test generator (<see cref="LuoGen"/> threaded through the
/// abstract model <see cref="ModelStep"/>, exactly as the whole-model state machine draws them), and their
/// replay under two configurations for <c>luo diff</c> (issue 7 §3). Generation depends only on the seed:
/// the abstract model is mainline N, so both configurations replay the same calls.
/// </summary>
public static class RandomHistories
{
    /// <summary>Seed of history 1 of the default set.</summary>
    public const ulong DefaultSeed = 0x1005_2026_0007;
    /// <summary>Histories in the default set.</summary>
    public const int DefaultCount = 50;
    /// <summary>Ops per history.</summary>
    public const int DefaultLength = 60;
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private const int GenSize = 50;

    /// <summary>The seed of history <paramref name="number"/> (1-based) of a set starting at <paramref name="baseSeed"/>.</summary>
    public static ulong SeedOf(ulong baseSeed, int number) => Mix(baseSeed + ((ulong)number * Gamma));

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A history of <paramref name="length"/> ops: each machine step draws the next batch from the
    /// generator for the current abstract state (FsCheck, size 50, one <see cref="Rnd"/> per step derived from
    /// the seed), applies the machine's preconditions, and threads the abstract model through every op.</summary>
    public static IReadOnlyList<TraceOp> Generate(ulong seed, int length = DefaultLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var m = Model.ColdBoot();
        var ops = new List<TraceOp>(length + 64);
        for (ulong step = 0; ops.Count < length; step++)
        {
            var batch = LuoGen.Next(m).Sample(GenSize, new Rnd(Mix(seed ^ Mix(step + 1)), Gamma), 1)[0];
            foreach (var op in batch)
            {
                if (ops.Count >= length) break;
                if (op is KexecOp && m.Phase != Phase.Frozen) break;
                if (op is not ColdBootOp && m.Phase == Phase.Panicked) break;
                m = ModelStep.Run(m, op);
                ops.Add(op);
            }
        }
        return ops;
    }

    /// <summary>The default set: <paramref name="count"/> histories from <see cref="DefaultSeed"/>.</summary>
    public static IEnumerable<(int Number, ulong Seed, IReadOnlyList<TraceOp> Ops)> Set(int count = DefaultCount, int length = DefaultLength, ulong baseSeed = DefaultSeed)
    {
        for (int i = 1; i <= count; i++)
        {
            ulong s = SeedOf(baseSeed, i);
            yield return (i, s, Generate(s, length));
        }
    }

    /// <summary>Replays <paramref name="ops"/> on a fresh trace machine per configuration and returns the first
    /// op whose result (value, reply bytes) differs. A side that hits a model-usage error (an op the other
    /// configuration's state no longer allows, e.g. a kexec without a successful reboot) stops there; that
    /// op counts as divergent unless both sides stop on it.</summary>
    public static HistoryDivergence? FirstDivergence(IReadOnlyList<TraceOp> ops, KernelConfig left, KernelConfig right)
    {
        ArgumentNullException.ThrowIfNull(ops);
        var a = TraceTarget.ColdBoot(left);
        var b = TraceTarget.ColdBoot(right);
        for (int i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            string? la = Run(a, op, out var ra);
            string? lb = Run(b, op, out var rb);
            if (ra is null || rb is null)
            {
                if (ra is null && rb is null) return null;
                return new HistoryDivergence(i, op, la!, lb!);
            }
            if (!ra.Equals(rb)) return new HistoryDivergence(i, op, la!, lb!);
        }
        return null;
    }

    private static string Run(TraceTarget t, TraceOp op, out TraceResult? result)
    {
        try
        {
            result = t.Execute(op);
            return TraceFormat.Line(op, result);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or InsufficientMemoryException)
        {
            result = null;
            return TraceFormat.Call(op) + " not run: " + e.Message;
        }
    }

    /// <summary>Every history of the set compared under the two configurations.</summary>
    public static IEnumerable<HistoryComparison> Compare(KernelConfig left, KernelConfig right, int count = DefaultCount, int length = DefaultLength, ulong baseSeed = DefaultSeed)
    {
        foreach (var (n, s, ops) in Set(count, length, baseSeed))
            yield return new HistoryComparison(n, s, ops, FirstDivergence(ops, left, right));
    }
}
