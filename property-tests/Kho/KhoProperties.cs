using FsCheck;
using FsCheck.Experimental;
using FsCheck.Fluent;
using LuoModel.Kho;
using KhoKernel = LuoModel.Kho.Kho;

namespace LuoModel.PropertyTests.Kho;

/// <summary>kho.md §5 properties, each with a demonstration that it fails on a deliberately broken tracker.</summary>
public class KhoProperties
{
    private static readonly Config Fast = Config.QuickThrowOnFailure.WithMaxTest(60);

    private static void Holds(Property p) => Check.One(Fast, p);

    private static void Fails(Property p) =>
        Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), p));

    [Fact] public void Machine_follows_model() => Holds(new KhoMachine().ToProperty());
    [Fact] public void Machine_catches_dropped_keys() => Fails(new KhoMachine(KhoFault.DropKeys).ToProperty());
    [Fact] public void Machine_catches_unpreserve_clearing_a_neighbour() => Fails(new KhoMachine(KhoFault.DelClearsNeighbour).ToProperty());
    [Fact] public void Machine_catches_a_block_lost_at_kexec() => Fails(new KhoMachine(KhoFault.LoseLastBlockAtKexec, 40).ToProperty());

    private static Gen<(ulong Pfn, int Order)[]> Calls =>
        (from o in Gen.Elements(0, 0, 1, 3, 9) from i in Gen.Choose(0, 4000) select (((0x8000UL + (ulong)i) << o) & ~((1UL << o) - 1), o))
        .ArrayOf().Select(a => a.Take(40).ToArray());

    /// <summary>Map pages' bytes after replaying the calls on a fresh machine (root first, allocation order).</summary>
    private static byte[] MapBytes((ulong Pfn, int Order)[] calls, KhoFault fault, out HashSet<(ulong, int)> keys)
    {
        var k = KhoKernel.ColdBoot(new PhysicalArena(1UL << 33));
        k.Fault = fault;
        foreach (var (p, o) in calls) k.PreserveFolio(new Folio(p, o));
        keys = [.. k.PreservedBlocks()];
        using var ms = new MemoryStream();
        foreach (ulong page in k.Tree!.NodePages)
        {
            ms.Write(BitConverterLe(page));
            ms.Write(k.Arena.PageForRead(page >> 12));
        }
        return ms.ToArray();
    }

    private static byte[] BitConverterLe(ulong v)
    {
        var b = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    private static Property Deterministic(KhoFault fault) => Prop.ForAll(Calls.ToArbitrary(), calls =>
        MapBytes(calls, fault, out _).AsSpan().SequenceEqual(MapBytes(calls, fault, out _)));

    /// <summary>§5 / issue: same calls, same map bytes.</summary>
    [Fact] public void Map_bytes_are_a_function_of_the_calls() => Holds(Deterministic(KhoFault.None));
    [Fact] public void Determinism_catches_random_node_placement() => Fails(Deterministic(KhoFault.RandomPlacement));

    private static Property OrderIndependent(KhoFault fault) => Prop.ForAll(Calls.ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), (calls, seed) =>
    {
        MapBytes(calls, fault, out var a);
        var shuffled = calls.OrderBy(_ => new Random(seed).Next()).ToArray();
        new Random(seed).Shuffle(shuffled);
        MapBytes(shuffled, fault, out var b);
        return a.SetEquals(b) && a.Count == calls.Distinct().Count() + 2;
    });

    /// <summary>§5 inv. 2/4: the decoded key set does not depend on call order and equals the set of calls.</summary>
    [Fact] public void Key_set_is_independent_of_call_order() => Holds(OrderIndependent(KhoFault.None));
    [Fact] public void Order_independence_catches_dropped_keys() => Fails(OrderIndependent(KhoFault.DropKeys));

    private static Property FailedPreservePagesChangesNoKeys(KhoFault fault) =>
        Prop.ForAll(Gen.Choose(1, 5000).ToArbitrary(), Gen.Choose(1, 3000).ToArbitrary(), Gen.Choose(0, 6).ToArbitrary(), (start, nr, failAt) =>
        {
            var k = KhoKernel.ColdBoot(new PhysicalArena(1UL << 34));
            k.Fault = fault;
            // spread the run over several leaves so later blocks need fresh node pages
            ulong pfn = 0x7FF0UL + (ulong)start * 0x300;
            var before = k.PreservedBlocks().ToHashSet();
            int nodes = k.Tree!.NodePages.Count;
            k.Pages.InjectFailure(failAt);
            var rc = k.PreservePages(pfn, (ulong)nr + 0x10000);
            var after = k.PreservedBlocks().ToHashSet();
            // §5 inv. 7: a failure leaves the key set as before; node pages only grow (inv. 4)
            return (rc == Errno.Ok ? after.IsSupersetOf(before) : rc == Errno.ENOMEM && after.SetEquals(before))
                && k.Tree.NodePages.Count >= nodes;
        });

    [Fact] public void Failed_preserve_pages_leaves_keys_unchanged() => Holds(FailedPreservePagesChangesNoKeys(KhoFault.None));
    [Fact] public void Rollback_property_catches_missing_rollback() => Fails(FailedPreservePagesChangesNoKeys(KhoFault.NoRollback));

    /// <summary>§5 inv. 1: decode(encode(p, o)) = (p, o).</summary>
    [Fact]
    public void Key_encoding_round_trips() => Holds(Prop.ForAll(Gen.Choose(0, 40).ToArbitrary(), Gen.Choose(0, int.MaxValue).ToArbitrary(), (o, r) =>
    {
        ulong p = ((ulong)r << 20) % (1UL << 51) & ~((4096UL << o) - 1);
        return RadixKey.TryDecode(RadixKey.Encode(p, o), out ulong p2, out int o2) && p2 == p && o2 == o;
    }));
}
