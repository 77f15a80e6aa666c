using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Invariants;

public static partial class LuoInvariants
{
    private struct NoopVisitor : IRadixVisitor
    {
        public readonly int Node(ulong phys, int level) => 0;
        public readonly int Key(ulong key) => 0;
    }

    /// <summary>Memory ownership (luo.md §8 inv. 19, 20, 22) and KHO tracker/FDT shape (kho.md §5 inv. 9, 14,
    /// 15, 16, 18).</summary>
    private static void CheckKho(TraceTarget t, Action<string, string> fail)
    {
        var k = t.Kernel;
        var kho = k.Kho;
        var luo = k.Luo;
        var preserved = kho.PreservedBlocks();
        var set = preserved.ToHashSet();

        // K9: the outgoing tree is a tree
        if (kho.Tree is { } tree)
        {
            var v = new NoopVisitor();
            RadixTree.Walk(k.Arena, tree.Root, ref v, [], out var err);
            if (err != RadixWalkError.None) fail("K9_radix_tree_shape", err.ToString());
        }
        // I19: no page is both preserved and free; K14: no preserved block in scratch
        foreach (var (phys, order) in preserved)
        {
            ulong pfn = phys >> PhysicalArena.PageShift;
            for (ulong i = 0; i < 1UL << order; i++)
                if (!kho.Pages.IsUsed(pfn + i)) { fail("I19_preserved_page_not_freed", $"preserved block 0x{phys:x}/{order} has free page 0x{(pfn + i) << 12:x}"); break; }
            foreach (var s in kho.Scratch)
                if (phys < s.End && phys + ((ulong)PhysicalArena.PageSize << order) > s.Start) fail("K14_scratch_disjoint", $"preserved 0x{phys:x}/{order} overlaps scratch");
        }
        // I20 + K16 + K15: the preserved set is exactly what this boot owns
        var expected = new HashSet<(ulong, int)>(t.BootKeys);
        expected.UnionWith(t.UserKeys);
        if (luo.Enabled && luo.Outgoing.Blocks is not null)
        {
            foreach (ulong b in luo.Outgoing.Blocks.Blocks) expected.Add((b, 0));
            foreach (var s in luo.Outgoing.Sessions)
            {
                foreach (ulong b in s.FileBlocks!.Blocks) expected.Add((b, 0));
                foreach (var f in s.Files)
                    if (f.PrivateData is MemfdPrivate m) MemfdKeys(k, m, expected, fail);
            }
        }
        if (!set.SetEquals(expected))
        {
            string missing = string.Join(' ', expected.Except(set).Take(4).Select(x => $"0x{x.Item1:x}/{x.Item2}"));
            string extra = string.Join(' ', set.Except(expected).Take(4).Select(x => $"0x{x.Item1:x}/{x.Item2}"));
            fail(luo.Outgoing.Count == 0 ? "I20_close_all_leaves_root_and_flb" : "I20_preserved_pages_accounted", $"missing [{missing}] extra [{extra}]");
        }
        // I22: pages of incoming sessions stay reserved until the next kexec
        foreach (var s in luo.Incoming.Sessions)
        {
            foreach (ulong b in s.FileBlocks?.Blocks ?? [])
                if (!kho.Pages.IsUsed(b >> 12)) fail("I22_incoming_pages_reserved", $"file block 0x{b:x} of {s} is free");
            foreach (var f in s.Files)
                if (f.RetrieveStatus == 0 && f.Handler is MemfdHandler && f.SerializedData != 0 && !kho.Pages.IsUsed(f.SerializedData >> 12))
                    fail("I22_incoming_pages_reserved", $"memfd record 0x{f.SerializedData:x} of token {f.Token} is free");
        }
        // K18: unique subtree names, LUO present once when LUO registered its root
        var names = kho.OutgoingSubtreeNames();
        if (names.Distinct().Count() != names.Count) fail("K18_subtree_names_unique", string.Join(',', names));
        if (luo.Enabled && luo.OutRootPhys != 0 && names.Count(n => n == Luo.KhoEntryName) != 1) fail("K18_subtree_names_unique", $"LUO listed {names.Count(n => n == Luo.KhoEntryName)} times");
    }

    private static void MemfdKeys(Kernel.Kernel k, MemfdPrivate m, HashSet<(ulong, int)> expected, Action<string, string> fail)
    {
        expected.Add((m.SerPhys, 0));
        foreach (var f in m.Folios) expected.Add((f.Pfn << PhysicalArena.PageShift, 0));
        if (m.Folios.Count == 0) return;
        int chunks = 0, entries = 0;
        for (ulong c = m.Descriptor.First; c != 0 && chunks <= 16; c = k.Arena.ReadU64(c + KhoVmallocChunk.NextOffset))
        {
            chunks++;
            expected.Add((c, 0));
            for (int i = 0; i < KhoVmallocChunk.Entries; i++)
            {
                ulong p = k.Arena.ReadU64(c + KhoVmallocChunk.PhysOffset + (8UL * (uint)i));
                if (p == 0) break;
                entries++;
                expected.Add((p, m.Descriptor.Order));
            }
        }
        if (chunks != (int)(m.Descriptor.TotalPages / KhoVmallocChunk.Entries) + 1 || entries != m.Descriptor.TotalPages)
            fail("K15_vmalloc_chunks", $"{chunks} chunks / {entries} entries for {m.Descriptor.TotalPages} pages");
    }
}
