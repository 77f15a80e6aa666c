using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Tests.Kho;

/// <summary>kho.md §3.1–§3.2 worked examples, byte for byte.</summary>
public class RadixExampleTests
{
    private static (PhysicalArena Arena, PageAllocator Alloc, RadixTree Tree) EmptyTree()
    {
        var arena = new PhysicalArena(64UL << 20);
        var alloc = new PageAllocator(arena);
        alloc.Reserve(0, 1UL << 20);
        var tree = RadixTree.Create(arena, alloc)!;
        return (arena, alloc, tree);
    }

    private static List<(int Offset, byte Value)> NonZero(PhysicalArena a, ulong phys)
    {
        var page = a.PageForRead(phys >> 12);
        var r = new List<(int, byte)>();
        for (int i = 0; i < page.Length; i++) if (page[i] != 0) r.Add((i, page[i]));
        return r;
    }

    private static byte[] Le(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }

    [Theory]
    [InlineData(0x1000UL, 0, 0x0010_0000_0000_0001UL)]
    [InlineData(0x200000UL, 9, 0x0000_0800_0000_0001UL)]
    public void Keys_match_spec(ulong phys, int order, ulong key)
    {
        Assert.Equal(key, RadixKey.Encode(phys, order));
        Assert.True(RadixKey.TryDecode(key, out ulong p, out int o));
        Assert.Equal((phys, order), (p, o));
    }

    [Theory]
    [InlineData(0, 5, 2)] [InlineData(1, 5, 1)] [InlineData(2, 4, 256)] [InlineData(9, 4, 2)]
    [InlineData(10, 4, 1)] [InlineData(11, 3, 256)] [InlineData(19, 3, 1)]
    public void Marker_slots_for_address_zero(int order, int level, int slot) =>
        Assert.Equal(slot, RadixKey.Slot(RadixKey.Encode(0, order), level));

    [Fact]
    public void Example_A_order0_page_at_0x1000()
    {
        var (a, alloc, t) = EmptyTree();
        Assert.Equal(0x100000UL, t.Root);
        long before = alloc.Allocations;
        Assert.Equal(Errno.Ok, t.Add(RadixKey.Encode(0x1000, 0)));
        Assert.Equal(5, alloc.Allocations - before);
        // T4..LEAF0 are the next five pages 0x101000..0x105000
        Assert.Equal([.. Le(0x101000).Select((b, i) => (16 + i, b)).Where(x => x.b != 0)], NonZero(a, t.Root));
        Assert.Equal(0x101000UL, a.ReadU64(t.Root + 16));
        Assert.Equal(0x102000UL, a.ReadU64(0x101000));
        Assert.Equal(0x103000UL, a.ReadU64(0x102000));
        Assert.Equal(0x104000UL, a.ReadU64(0x103000));
        Assert.Equal(0x105000UL, a.ReadU64(0x104000));
        Assert.Equal([(0, (byte)0x02)], NonZero(a, 0x105000));
        foreach (ulong p in new ulong[] { 0x101000, 0x102000, 0x103000, 0x104000 })
            Assert.All(NonZero(a, p), x => Assert.InRange(x.Offset, 0, 7));
    }

    [Fact]
    public void Example_B_then_walk_and_C()
    {
        var (a, alloc, t) = EmptyTree();
        t.Add(RadixKey.Encode(0x1000, 0));
        long before = alloc.Allocations;
        Assert.Equal(Errno.Ok, t.Add(RadixKey.Encode(0x200000, 9)));
        Assert.Equal(5, alloc.Allocations - before);
        ulong u4 = a.ReadU64(t.Root + 0);
        Assert.Equal(0x106000UL, u4);
        Assert.Equal(0x101000UL, a.ReadU64(t.Root + 16)); // A's slot untouched
        Assert.Equal(0x107000UL, a.ReadU64(u4 + 16));
        Assert.All(NonZero(a, u4), x => Assert.InRange(x.Offset, 16, 23));
        Assert.Equal([(0, (byte)0x02)], NonZero(a, 0x10A000)); // LEAF9
        Assert.Equal(0x10A000UL, a.ReadU64(a.ReadU64(a.ReadU64(0x107000))));

        var walk = Walk(a, t.Root);
        Assert.Equal([(0x200000UL, 9), (0x1000UL, 0)], walk);

        // Example C: chunk 0x3000, pages 0x7000, 0x5000, 0x9000 — no new nodes, LEAF0 AA 02
        before = alloc.Allocations;
        foreach (ulong p in new ulong[] { 0x3000, 0x7000, 0x5000, 0x9000 }) t.Add(RadixKey.Encode(p, 0));
        Assert.Equal(0, alloc.Allocations - before);
        Assert.Equal([(0, (byte)0xAA), (1, (byte)0x02)], NonZero(a, 0x105000));
        Assert.Equal([(0x200000UL, 9), (0x1000UL, 0), (0x3000UL, 0), (0x5000UL, 0), (0x7000UL, 0), (0x9000UL, 0)], Walk(a, t.Root));
    }

    [Fact]
    public void Example_C_descriptor_bytes()
    {
        var d = new KhoVmalloc(0x3000, 3, KhoVmalloc.FlagAlloc, 0);
        var b = new byte[16];
        d.WriteTo(b);
        Assert.Equal(new byte[] { 0x00, 0x30, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x01, 0x00, 0x00, 0x00 }, b);
        Assert.Equal(d, KhoVmalloc.ReadFrom(b));
    }

    [Fact]
    public void Delete_semantics()
    {
        var (a, alloc, t) = EmptyTree();
        t.Add(RadixKey.Encode(0x1000, 0));
        t.Add(RadixKey.Encode(0x200000, 9));
        Assert.True(t.Del(RadixKey.Encode(0x400000, 9)));   // absent key, path exists: silent
        Assert.False(t.Del(RadixKey.Encode(0x1000, 1)));    // missing intermediate node: WARN
        long pages = alloc.UsedPages is var u ? (long)u : 0;
        Assert.True(t.Del(RadixKey.Encode(0x1000, 0)));
        Assert.Equal((ulong)pages, alloc.UsedPages);          // never frees nodes
        Assert.Equal([(0x200000UL, 9)], Walk(a, t.Root));
        Assert.Equal(11, t.NodePages.Count);
    }

    [Fact]
    public void Add_failure_frees_new_nodes_and_resets_anchor_slot()
    {
        var (a, alloc, t) = EmptyTree();
        alloc.InjectFailure(succeedFirst: 3);
        ulong used = alloc.UsedPages;
        Assert.Equal(Errno.ENOMEM, t.Add(RadixKey.Encode(0x1000, 0)));
        Assert.Equal(used, alloc.UsedPages);
        Assert.Equal(0UL, a.ReadU64(t.Root + 16));
        Assert.Empty(Walk(a, t.Root));
    }

    [Fact]
    public void Split_examples()
    {
        var blocks = new List<(ulong, int)>();
        for (ulong p = 3, end = 11; p < end; p += 1UL << blocks[^1].Item2) blocks.Add((p, LuoModel.Kho.Kho.SplitOrder(p, end)));
        Assert.Equal([(3UL, 0), (4UL, 2), (8UL, 1), (10UL, 0)], blocks);
        Assert.Equal(20, LuoModel.Kho.Kho.SplitOrder(1UL << 20, 2UL << 20));
    }

    internal static List<(ulong, int)> Walk(PhysicalArena a, ulong root)
    {
        var list = new List<(ulong, int)>();
        var v = new Collect { List = list };
        RadixTree.Walk(a, root, ref v, new HashSet<ulong>(), out var err);
        Assert.Equal(RadixWalkError.None, err);
        return list;
    }

    private struct Collect : IRadixVisitor
    {
        public List<(ulong, int)> List;
        public readonly int Node(ulong phys, int level) => 0;
        public readonly int Key(ulong key) { RadixKey.TryDecode(key, out var p, out var o); List.Add((p, o)); return 0; }
    }
}
