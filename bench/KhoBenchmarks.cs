using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;
using LuoModel.Kho;

namespace LuoModel.Bench;

/// <summary>Columns: allocations, million pages per second and MB/s of the memory each operation covers
/// (1 GiB = 262144 pages for every case).</summary>
internal sealed class KhoBenchConfig : ManualConfig
{
    public KhoBenchConfig()
    {
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(new ThroughputColumn("Mpages/s", PagesPerOp, "M pages/s", 1e6));
        AddColumn(new ThroughputColumn("MB/s", c => PagesPerOp(c) * 4096.0));
        WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
    }

    /// <summary>Unpreserve cases also re-preserve (to stay in steady state), so they cover 2 GiB of calls.</summary>
    private static double PagesPerOp(BenchmarkCase c) =>
        c.Descriptor.WorkloadMethod.Name.StartsWith("Unpreserve", StringComparison.Ordinal) ? 2.0 * KhoBenchmarks.Pages : KhoBenchmarks.Pages;
}

/// <summary>
/// KHO preservation hot paths over 1 GiB (issue 4 §5): preserve/unpreserve as order-0 folios and as a
/// deterministic mix of orders 0..9, kho-v1 map serialization (kho_finalize's chunk chain), and the incoming
/// radix walk. Steady state: the tree's node pages exist after the first invocation, so a preserve allocates
/// nothing.
/// </summary>
[Config(typeof(KhoBenchConfig))]
public class KhoBenchmarks
{
    /// <summary>Pages per operation.</summary>
    public const int Pages = 1 << 18;
    private const ulong FirstPfn = 1UL << 18; // 1 GiB .. 2 GiB of a 4 GiB machine

    private LuoModel.Kho.Kho _kho = null!;
    private LuoModel.Kho.Kho _v1 = null!;
    private Folio[] _mixed = [];
    private ulong _root;
    private PhysicalArena _arena = null!;

    [GlobalSetup]
    public void Setup()
    {
        _kho = LuoModel.Kho.Kho.ColdBoot(new PhysicalArena(4UL << 30));
        for (ulong p = FirstPfn; p < FirstPfn + Pages; p++) _kho.PreserveFolio(new Folio(p, 0));
        _arena = _kho.Arena;
        _root = _kho.Tree!.Root;
        var rng = new Random(42);
        var mixed = new List<Folio>();
        for (ulong p = FirstPfn; p < FirstPfn + Pages;)
        {
            int o = Math.Min(rng.Next(0, 10), System.Numerics.BitOperations.TrailingZeroCount(p));
            while (p + (1UL << o) > FirstPfn + Pages) o--;
            mixed.Add(new Folio(p, o));
            p += 1UL << o;
        }
        _mixed = [.. mixed];
        foreach (var f in _mixed) _kho.PreserveFolio(f);
        _v1 = LuoModel.Kho.Kho.ColdBoot(new PhysicalArena(4UL << 30), new KhoOptions { Variant = KhoVariant.KhoV1 });
        for (ulong p = FirstPfn; p < FirstPfn + Pages; p++) _v1.PreserveFolio(new Folio(p, 0));
    }

    /// <summary>kho_preserve_folio() for each of 262144 order-0 pages.</summary>
    [Benchmark]
    public int PreserveOrder0()
    {
        int bad = 0;
        for (ulong p = FirstPfn; p < FirstPfn + Pages; p++) bad += (int)_kho.PreserveFolio(new Folio(p, 0));
        return bad;
    }

    /// <summary>kho_unpreserve_folio() for each order-0 page (the next invocation's preserve sets them again).</summary>
    [Benchmark]
    public int UnpreserveOrder0()
    {
        int bad = 0;
        for (ulong p = FirstPfn; p < FirstPfn + Pages; p++) bad += (int)_kho.UnpreserveFolio(new Folio(p, 0));
        for (ulong p = FirstPfn; p < FirstPfn + Pages; p++) bad += (int)_kho.PreserveFolio(new Folio(p, 0));
        return bad;
    }

    /// <summary>kho_preserve_folio() over 1 GiB split into folios of orders 0..9.</summary>
    [Benchmark]
    public int PreserveMixedOrders()
    {
        int bad = 0;
        foreach (var f in _mixed) bad += (int)_kho.PreserveFolio(f);
        return bad;
    }

    /// <summary>kho_unpreserve_folio() + re-preserve over the mixed-order split.</summary>
    [Benchmark]
    public int UnpreserveMixedOrders()
    {
        int bad = 0;
        foreach (var f in _mixed) bad += (int)_kho.UnpreserveFolio(f);
        foreach (var f in _mixed) bad += (int)_kho.PreserveFolio(f);
        return bad;
    }

    /// <summary>kho-v1 kho_mem_serialize(): chunk chain for 1 GiB of order-0 pages (8 bitmaps).</summary>
    [Benchmark]
    public ulong SerializeV1Map()
    {
        _v1.Xarray!.Serialize(out ulong first);
        return first;
    }

    /// <summary>Incoming walk of the radix tree holding 1 GiB of order-0 keys plus the mixed split.</summary>
    [Benchmark]
    public long IncomingWalk()
    {
        var v = new CountVisitor();
        RadixTree.Walk(_arena, _root, ref v, null, out _);
        return v.Keys;
    }

    private struct CountVisitor : IRadixVisitor
    {
        public long Keys;
        public readonly int Node(ulong phys, int level) => 0;
        public int Key(ulong key) { Keys++; return 0; }
    }
}
