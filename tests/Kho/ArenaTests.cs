using LuoModel.Kho;

namespace LuoModel.Tests.Kho;

/// <summary>PhysicalArena, PageAllocator and the arena image (issue 4 §1).</summary>
public class ArenaTests
{
    [Fact]
    public void Sparse_reads_zero_and_spans_split_at_pages()
    {
        var a = new PhysicalArena(64UL << 30);               // 64 GiB costs only touched pages
        var buf = new byte[8192];
        a.Read(0x2_0000_0000, buf);
        Assert.True(buf.AsSpan().IndexOfAnyExcept((byte)0) < 0);
        var data = Enumerable.Range(0, 6000).Select(i => (byte)i).ToArray();
        a.Write(0x2_0000_0F00, data);
        Assert.Equal(3, a.PresentPages);
        var back = new byte[6000];
        a.Read(0x2_0000_0F00, back);
        Assert.Equal(data, back);
        Assert.False(a.TryRead(ulong.MaxValue - 2, new byte[8]));   // overflow-safe
        Assert.False(a.TryWrite((64UL << 30) - 4, new byte[8]));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Read(64UL << 30, new byte[1]));
        a.WriteU64(0x1FFC, 0x1122334455667788);                      // straddles two pages
        Assert.Equal(0x1122334455667788UL, a.ReadU64(0x1FFC));
        Assert.Equal(0x88, a.PageForRead(1)[0xFFC]);
    }

    [Fact]
    public void Scrub_poisons_all_but_kept_ranges()
    {
        var a = new PhysicalArena(1UL << 24);
        a.Fill(0, 1UL << 24 >> 1, 0x55);
        a.Scrub([new PhysRange(0x1000, 0x3000), new PhysRange(0x900000, 0x902000)]);
        Assert.Equal(0x55, a.PageForRead(1)[0]);
        Assert.Equal(PhysicalArena.PoisonByte, a.PageForRead(0)[0]);
        Assert.Equal(PhysicalArena.PoisonByte, a.PageForRead(3)[100]);
        Assert.Equal(0, a.PageForRead(0x900)[5]);                   // kept untouched page still reads zero
        Assert.Equal(PhysicalArena.PoisonByte, a.PageForRead(0x902)[5]);
    }

    [Fact]
    public void Allocator_orders_alignment_scratch_and_reservations()
    {
        var a = new PhysicalArena(64UL << 20);
        var p = new PageAllocator(a);
        p.Reserve(0, 1UL << 20);
        p.AddScratch(new PhysRange(0x100000, 0x200000));
        Assert.True(p.TryAlloc(0, AllocFlags.None, out ulong x));
        Assert.Equal(0x200UL, x);                                    // skips scratch (unmovable)
        Assert.True(p.TryAlloc(3, AllocFlags.None, out ulong y));
        Assert.Equal(0x208UL, y);                                    // naturally aligned
        Assert.True(p.TryAlloc(0, AllocFlags.Movable, out ulong z));
        Assert.Equal(0x100UL, z);                                    // movable: scratch first
        p.ScratchOnly = true;
        Assert.True(p.TryAlloc(7, AllocFlags.None, out ulong w));
        Assert.Equal(0x180UL, w);                                    // scratch-only: inside scratch
        Assert.False(p.TryAlloc(8, AllocFlags.None, out _));         // 1 MiB no longer fits in scratch
        p.ScratchOnly = false;
        p.Free(x, 0);
        Assert.True(p.TryAlloc(0, AllocFlags.None, out ulong again));
        Assert.Equal(x, again);
    }

    [Fact]
    public void Image_round_trip_and_corruption()
    {
        var k = LuoModel.Kho.Kho.ColdBoot(new PhysicalArena(1UL << 30));
        k.Arena.Fill(0x4000000, 4096, 0x42);
        k.Arena.Write(0x4001000, "hello"u8);
        k.PreserveFolio(new Folio(0x4000, 1));
        var n = k.Reboot();
        var ms = new MemoryStream();
        ArenaImage.Save(n.Arena, ms);
        byte[] img = ms.ToArray();
        Assert.Equal(ArenaImageError.None, ArenaImage.TryLoad(img, out var copy, out _));
        Assert.Equal(n.Arena.Handoff, copy!.Handoff);
        Assert.Equal(n.Arena.Background, copy.Background);
        foreach (ulong pfn in new ulong[] { 0x4000, 0x4001, 0x101, 0x100, 0x9000 })
            Assert.True(n.Arena.PageForRead(pfn).SequenceEqual(copy.PageForRead(pfn)));
        var h = HandoverReader.Read(copy, copy.Handoff!.Value, new KhoOptions());
        Assert.True(h.IsKhoBoot, h.Reason);

        var bad = (byte[])img.Clone();
        bad[bad.Length / 2] ^= 1;
        Assert.Equal(ArenaImageError.ChecksumMismatch, ArenaImage.TryLoad(bad, out var none, out string msg));
        Assert.Null(none);
        Assert.Contains("checksum", msg);
        Assert.Equal(ArenaImageError.ChecksumMismatch, ArenaImage.TryLoad(img.AsSpan(0, img.Length - 100), out none, out _));
        Assert.Equal(ArenaImageError.Truncated, ArenaImage.TryLoad(img.AsSpan(0, 20), out none, out _));
        Assert.Equal(ArenaImageError.BadMagic, ArenaImage.TryLoad(new byte[100], out none, out _));
        Assert.Null(none);
    }

    [Fact]
    public void Adjacent_reservations_merge_into_one_memblock_range()
    {
        var p = new PageAllocator(new PhysicalArena(1UL << 24));
        p.Reserve(0x1000, 0x1000);
        p.Reserve(0x2000, 0x2000);          // starts where the last one ends: extends it
        p.Reserve(0x8000, 0x1000);          // a gap: a new range
        p.Reserve(0x9000, 0);               // empty: recorded on its own, as before
        p.Reserve(0x4000, 0x1000);          // adjacent to an older range only: merging looks at the last one
        Assert.Equal([new PhysRange(0x1000, 0x4000), new PhysRange(0x8000, 0x9000), new PhysRange(0x9000, 0x9000), new PhysRange(0x4000, 0x5000)], p.Reserved);
        Assert.Equal(5UL, p.UsedPages);
        Assert.True(p.IsUsed(3) && p.IsUsed(4) && p.IsUsed(8) && !p.IsUsed(5) && !p.IsUsed(9));
    }
}
