using System.Collections.Immutable;
using FsCheck;
using FsCheck.Experimental;
using FsCheck.Fluent;
using LuoModel.Kho;
using KhoKernel = LuoModel.Kho.Kho;

namespace LuoModel.PropertyTests.Kho;

/// <summary>The system under test: the current kernel (replaced by kexec) and KHO's own keys at boot.</summary>
internal sealed class KhoSut
{
    internal KhoSut(KhoFault fault)
    {
        Fault = fault;
        Kernel = KhoKernel.ColdBoot(new PhysicalArena(1UL << 30));
        Kernel.Fault = fault;
        Baseline = [.. Kernel.PreservedBlocks()];
    }

    internal KhoFault Fault { get; }
    public KhoKernel Kernel { get; set; }
    public ImmutableHashSet<(ulong, int)> Baseline { get; set; }
    public List<(ulong, int)> Allocs { get; } = [];

    /// <summary>kho.md §5 inv. 4/9: actual user keys and tree shape.</summary>
    public (bool Ok, string Why) KeysEqual(ImmutableHashSet<(ulong Pfn, int Order)> model)
    {
        var actual = Kernel.PreservedBlocks().Select(b => (b.Phys >> 12, b.Order)).ToHashSet();
        var expected = model.Union(Baseline.Select(b => (b.Item1 >> 12, b.Item2))).Union(Allocs.Select(a => (a.Item1 >> 12, a.Item2)));
        if (!actual.SetEquals(expected))
            return (false, $"keys differ: missing [{string.Join(' ', expected.Except(actual).Select(k => $"{k.Item1:x}/{k.Item2}"))}] extra [{string.Join(' ', actual.Except(expected).Select(k => $"{k.Item1:x}/{k.Item2}"))}]");
        var v = new NoopVisitor();
        var visited = new HashSet<ulong>();
        RadixTree.Walk(Kernel.Arena, Kernel.Tree!.Root, ref v, visited, out var err);
        return err == RadixWalkError.None ? (true, "") : (false, $"tree shape: {err}");
    }

    private struct NoopVisitor : IRadixVisitor
    {
        public readonly int Node(ulong phys, int level) => 0;
        public readonly int Key(ulong key) => 0;
    }
}

/// <summary>Model: user keys of the current kernel, restorable heads (head pfn → stamped order) from the
/// previous kernel, subtree names, count of alloc_preserve blocks, and the errno the latest call must return.</summary>
internal sealed record KhoModel(ImmutableHashSet<(ulong Pfn, int Order)> Keys, ImmutableDictionary<ulong, int> Heads,
    ImmutableHashSet<string> Subtrees, int Allocs, Errno Last = Errno.Ok, int LastOrder = 0)
{
    public override string ToString() =>
        $"keys[{string.Join(' ', Keys.OrderBy(k => k).Select(k => $"{k.Pfn:x}/{k.Order}"))}] heads[{string.Join(' ', Heads.OrderBy(h => h.Key).Select(h => $"{h.Key:x}/{h.Value}"))}] subtrees[{string.Join(',', Subtrees.Order())}]";

    /// <summary>Stamped head pfn → order after the incoming walk: lower order wins a shared head (§3.1).</summary>
    public static ImmutableDictionary<ulong, int> Stamp(IEnumerable<(ulong Pfn, int Order)> keys)
    {
        var d = new Dictionary<ulong, int>();
        foreach (var (p, o) in keys) d[p] = d.TryGetValue(p, out int old) ? Math.Min(old, o) : o;
        return d.ToImmutableDictionary();
    }
}

/// <summary>FsCheck state machine over preserve/unpreserve/preserve_pages/alloc_preserve/add_subtree/kexec/restore
/// checking kho.md §5 invariants 2–5, 9–11, 16, 18, 20.</summary>
internal sealed class KhoMachine(KhoFault fault = KhoFault.None, int maxCommands = 30) : Machine<KhoSut, KhoModel>(maxCommands)
{
    private const ulong Base = 0x4000;

    public override Arbitrary<Setup<KhoSut, KhoModel>> Setup =>
        Gen.Constant<Setup<KhoSut, KhoModel>>(new Fresh(fault)).ToArbitrary();

    private static Gen<(ulong, int)> FolioGen =>
        from order in Gen.Elements(0, 0, 0, 1, 2, 3, 9)
        from idx in Gen.Choose(0, 15)
        from far in Gen.Frequency((8, Gen.Constant(0UL)), (1, Gen.Constant(0x20000UL)))
        select ((Base + far + ((ulong)idx << order)) & ~((1UL << order) - 1), order);

    public override Gen<Operation<KhoSut, KhoModel>> Next(KhoModel m) =>
        Gen.Frequency(
            (6, FolioGen.Select(f => (Operation<KhoSut, KhoModel>)new Preserve(f.Item1, f.Item2))),
            (4, (m.Keys.IsEmpty ? FolioGen : Gen.Elements(m.Keys.ToArray()))
                .Select(f => (Operation<KhoSut, KhoModel>)new Unpreserve(f.Item1, f.Item2))),
            (3, from s in Gen.Choose(1, 40) from n in Gen.Choose(0, 20)
                select (Operation<KhoSut, KhoModel>)new PreservePages(Base + (ulong)s, (ulong)n)),
            (1, Gen.Elements(100UL, 4096UL, 5000UL).Select(s => (Operation<KhoSut, KhoModel>)new AllocPreserve(s))),
            (2, Gen.Elements("LUO", "memblock", "dev@1", "dev").Select(n => (Operation<KhoSut, KhoModel>)new AddSubtree(n))),
            (1, Gen.Constant((Operation<KhoSut, KhoModel>)new Kexec())),
            (3, (m.Heads.IsEmpty ? FolioGen.Select(f => f.Item1) : Gen.Elements(m.Heads.Keys.Concat([Base + 1, Base + 0x201]).ToArray()))
                .Select(p => (Operation<KhoSut, KhoModel>)new Restore(p))));

    private sealed class Fresh(KhoFault fault) : Setup<KhoSut, KhoModel>
    {
        public override KhoSut Actual() => new(fault);
        public override KhoModel Model() => new([], ImmutableDictionary<ulong, int>.Empty, [], 0);
    }

    internal static IEnumerable<(ulong, int)> Split(ulong pfn, ulong nr)
    {
        for (ulong p = pfn, end = pfn + nr; p < end;)
        {
            int o = KhoKernel.SplitOrder(p, end);
            yield return (p, o);
            p += 1UL << o;
        }
    }

    private sealed class Preserve(ulong pfn, int order) : Operation<KhoSut, KhoModel>
    {
        public override KhoModel Run(KhoModel m) => m with { Keys = m.Keys.Add((pfn, order)) };
        public override Property Check(KhoSut a, KhoModel m)
        {
            var rc = a.Kernel.PreserveFolio(new Folio(pfn, order));
            var (ok, why) = a.KeysEqual(m.Keys);
            return (rc == Errno.Ok && ok).Label($"preserve {pfn:x}/{order}: {rc} {why}");
        }
        public override string ToString() => $"Preserve({pfn:x},{order})";
    }

    private sealed class Unpreserve(ulong pfn, int order) : Operation<KhoSut, KhoModel>
    {
        public override KhoModel Run(KhoModel m) => m with { Keys = m.Keys.Remove((pfn, order)) };
        public override Property Check(KhoSut a, KhoModel m)
        {
            var rc = a.Kernel.UnpreserveFolio(new Folio(pfn, order));
            var (ok, why) = a.KeysEqual(m.Keys);
            return (rc == Errno.Ok && ok).Label($"unpreserve {pfn:x}/{order}: {rc} {why}");
        }
        public override string ToString() => $"Unpreserve({pfn:x},{order})";
    }

    private sealed class PreservePages(ulong pfn, ulong nr) : Operation<KhoSut, KhoModel>
    {
        public override KhoModel Run(KhoModel m) => m with { Keys = m.Keys.Union(Split(pfn, nr)) };
        public override Property Check(KhoSut a, KhoModel m)
        {
            var rc = a.Kernel.PreservePages(pfn, nr);
            var (ok, why) = a.KeysEqual(m.Keys);
            return (rc == Errno.Ok && ok).Label($"preserve_pages {pfn:x}+{nr}: {rc} {why}");
        }
        public override string ToString() => $"PreservePages({pfn:x},{nr})";
    }

    private sealed class AllocPreserve(ulong size) : Operation<KhoSut, KhoModel>
    {
        public override KhoModel Run(KhoModel m) => m with { Allocs = m.Allocs + 1 };
        public override Property Check(KhoSut a, KhoModel m)
        {
            var rc = a.Kernel.AllocPreserve(size, out ulong p);
            int order = KhoKernel.GetOrder(size);
            a.Allocs.Add((p, order));
            var (ok, why) = a.KeysEqual(m.Keys);
            bool aligned = p % (4096UL << order) == 0;   // §5 inv. 16
            return (rc == Errno.Ok && ok && aligned && a.Allocs.Count == m.Allocs).Label($"alloc_preserve {size}: {rc} 0x{p:x} {why}");
        }
        public override string ToString() => $"AllocPreserve({size})";
    }

    private sealed class AddSubtree(string name) : Operation<KhoSut, KhoModel>
    {
        private static bool Clash(ImmutableHashSet<string> s, string n) =>
            s.Contains(n) || (!n.Contains('@', StringComparison.Ordinal) && s.Any(x => x.StartsWith(n + "@", StringComparison.Ordinal)));
        public override KhoModel Run(KhoModel m) =>
            Clash(m.Subtrees, name) ? m with { Last = Errno.EEXIST } : m with { Subtrees = m.Subtrees.Add(name), Last = Errno.Ok };
        public override Property Check(KhoSut a, KhoModel m)
        {
            var rc = a.Kernel.AddSubtree(name, 0x7000000 + (ulong)name.Length * 4096, (ulong)name.Length);
            var names = a.Kernel.OutgoingSubtreeNames();
            // §5 inv. 18: unique names, duplicates -EEXIST with nothing changed, reverse insertion order
            bool sameSet = names.Count == m.Subtrees.Count + 1 && m.Subtrees.All(names.Contains) && names[^1] == KhoKexecMetadata.Name;
            bool keys = a.KeysEqual(m.Keys).Ok;
            return (rc == m.Last && sameSet && keys && (rc != Errno.Ok || names[0] == name))
                .Label($"add_subtree {name}: {rc} (model {m.Last}), children [{string.Join(',', names)}]");
        }
        public override string ToString() => $"AddSubtree({name})";
    }

    private sealed class Kexec : Operation<KhoSut, KhoModel>
    {
        public override KhoModel Run(KhoModel m) =>
            new([], KhoModel.Stamp(m.Keys), [], 0);
        public override Property Check(KhoSut a, KhoModel m)
        {
            var old = a.Kernel;
            var next = old.Reboot();
            next.Fault = a.Fault;
            a.Kernel = next;
            a.Allocs.Clear();
            a.Baseline = [.. next.PreservedBlocks()];
            // §5 inv. 10: stamped heads of user blocks equal the model's stamping
            var stamped = new Dictionary<ulong, int>();
            foreach (var (pfn, _) in m.Heads)
            {
                ulong priv = next.MemMap.GetPrivate(pfn);
                if (priv >> 32 == KhoKernel.PageMagic) stamped[pfn] = (int)(uint)priv;
            }
            bool same = next.Incoming.IsKhoBoot && stamped.Count == m.Heads.Count && m.Heads.All(h => stamped.TryGetValue(h.Key, out int o) && o == h.Value);
            return same.Label($"kexec: accepted {next.Incoming.IsKhoBoot} ({next.Incoming.Reason}), stamped {stamped.Count} of {m.Heads.Count}");
        }
        public override string ToString() => "Kexec";
    }

    private sealed class Restore(ulong pfn) : Operation<KhoSut, KhoModel>
    {
        public override KhoModel Run(KhoModel m) => m.Heads.TryGetValue(pfn, out int o)
            ? m with { Heads = m.Heads.Remove(pfn), Last = Errno.Ok, LastOrder = o }
            : m with { Last = Errno.ENOENT };
        public override Property Check(KhoSut a, KhoModel m)
        {
            // §5 inv. 11: succeeds exactly once per stamped head with the stamped order; tails, repeats and
            // never-preserved pages give NULL
            bool ok = a.Kernel.RestoreFolio(pfn << 12, out var f);
            bool expect = m.Last == Errno.Ok;
            return (ok == expect && (!ok || (f == new Folio(pfn, m.LastOrder) && a.Kernel.MemMap.GetRefCount(pfn) == 1)))
                .Label($"restore {pfn:x}: {ok} {f}, model {m.Last}/{m.LastOrder}");
        }
        public override string ToString() => $"Restore({pfn:x})";
    }
}
