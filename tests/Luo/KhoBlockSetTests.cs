using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>kho_block.c as modelled by <see cref="KhoBlockSet"/> (luo.md §2.6), driven directly: block
/// arithmetic at the per-block boundaries, the writer cursor, clearing, growth failures and hostile chains
/// handed to restore. (Written to kill the Stryker survivors of KhoBlockSet.cs, see property-tests/README.md.)</summary>
public class KhoBlockSetTests : LuoTestBase
{
    private readonly FaultInjector _faults = new();

    private KhoBlockSet Set(int entrySize = LuoSessionSer.Size) => new(K.Kho, _faults, FaultPoint.SessionBlockGrow, entrySize);

    private ulong[] FreeFailures() =>
        [.. K.Kho.Warnings.Where(w => w.Kind == KhoWarning.RestoreFreeFailed).Select(w => w.Phys)];

    private bool Preserved(ulong pa) => K.Kho.PreservedBlocks().Contains((pa, 0));

    [Fact]
    public void Per_block_count_is_page_minus_header_over_entry_size()
    {
        Assert.Equal(51, Set(LuoSessionSer.Size).PerBlock);  // (4096 - 16) / 80
        Assert.Equal(63, Set(LuoFileSer.Size).PerBlock);     // (4096 - 16) / 64
        Assert.Equal(4096, KhoBlockSet.BlockSize);
        Assert.Equal(10000, KhoBlockSet.MaxBlocks);
    }

    [Fact]
    public void Grow_adds_exactly_the_blocks_needed_and_links_them()
    {
        var s = Set();
        Assert.Equal(Errno.Ok, s.Grow(0));
        Assert.Equal(0, s.BlockCount);
        Assert.Equal(0UL, s.HeadPa);
        Assert.Equal(Errno.Ok, s.Grow(51));
        Assert.Equal(1, s.BlockCount);
        Assert.Equal(Errno.Ok, s.Grow(52));
        Assert.Equal(2, s.BlockCount);
        Assert.Equal(Errno.Ok, s.Grow(102));
        Assert.Equal(2, s.BlockCount);
        Assert.Equal(Errno.Ok, s.Grow(103));
        Assert.Equal(3, s.BlockCount);
        var b = s.Blocks;
        Assert.Equal(b[0], s.HeadPa);
        Assert.False(s.Incoming);
        Assert.Equal(b[1], K.Arena.ReadU64(b[0] + KhoBlockHeaderSer.NextOffset));
        Assert.Equal(b[2], K.Arena.ReadU64(b[1] + KhoBlockHeaderSer.NextOffset));
        Assert.Equal(0UL, K.Arena.ReadU64(b[2] + KhoBlockHeaderSer.NextOffset));
        Assert.All(b, pa => Assert.True(Preserved(pa)));
        Assert.All(b, pa => Assert.Equal(0UL, K.Arena.ReadU64(pa + KhoBlockHeaderSer.CountOffset)));
    }

    [Fact]
    public void Shrink_keeps_the_blocks_for_n_entries_and_unlinks_the_rest()
    {
        var s = Set();
        Assert.Equal(Errno.Ok, s.Grow(103));
        var b = s.Blocks.ToArray();
        s.Shrink(103);
        Assert.Equal(3, s.BlockCount);
        s.Shrink(102);
        Assert.Equal(2, s.BlockCount);
        Assert.False(Preserved(b[2]));
        Assert.Equal(0UL, K.Arena.ReadU64(b[1] + KhoBlockHeaderSer.NextOffset));
        s.Shrink(52);
        Assert.Equal(2, s.BlockCount);
        s.Shrink(51);
        Assert.Equal(1, s.BlockCount);
        Assert.Equal(0UL, K.Arena.ReadU64(b[0] + KhoBlockHeaderSer.NextOffset));
        s.Shrink(1);
        Assert.Equal(1, s.BlockCount);
        s.Shrink(0);
        Assert.Equal(0, s.BlockCount);
        Assert.Equal(0UL, s.HeadPa);
        Assert.All(b, pa => Assert.False(Preserved(pa)));
    }

    [Fact]
    public void Failed_growth_removes_only_the_blocks_of_that_call()
    {
        var s = Set();
        Assert.Equal(Errno.Ok, s.Grow(51));
        ulong head = s.HeadPa;
        int before = K.Kho.PreservedBlocks().Count;
        _faults.FailNth(FaultPoint.SessionBlockGrow, _faults.Count(FaultPoint.SessionBlockGrow) + 3, Errno.ENOMEM);
        Assert.Equal(Errno.ENOMEM, s.Grow(51 * 4));
        Assert.Equal(1, s.BlockCount);
        Assert.Equal(head, s.HeadPa);
        Assert.Equal(0UL, K.Arena.ReadU64(head + KhoBlockHeaderSer.NextOffset));
        Assert.Equal(before, K.Kho.PreservedBlocks().Count);
        _faults.FailNext(FaultPoint.KhoAllocPreserve, Errno.ENOMEM);
        Assert.Equal(Errno.ENOMEM, s.Grow(52));
        Assert.Equal(1, s.BlockCount);
        Assert.Equal(Errno.Ok, s.Grow(52));
        Assert.Equal(2, s.BlockCount);
    }

    [Fact]
    public void Reserve_entry_walks_slots_sets_counts_and_stops_past_the_last_block()
    {
        var s = Set(LuoFileSer.Size);
        Assert.Equal(Errno.Ok, s.Grow(64));
        var b = s.Blocks;
        s.BeginWrite();
        Assert.Equal(b[0] + 16, s.ReserveEntry());
        Assert.Equal(1UL, K.Arena.ReadU64(b[0] + KhoBlockHeaderSer.CountOffset));
        Assert.Equal(b[0] + 16 + 64, s.ReserveEntry());
        Assert.Equal(2UL, K.Arena.ReadU64(b[0] + KhoBlockHeaderSer.CountOffset));
        for (int i = 2; i < 63; i++) Assert.Equal(b[0] + 16 + (ulong)(i * 64), s.ReserveEntry());
        Assert.Equal(63UL, K.Arena.ReadU64(b[0] + KhoBlockHeaderSer.CountOffset));
        Assert.Equal(b[1] + 16, s.ReserveEntry());
        Assert.Equal(1UL, K.Arena.ReadU64(b[1] + KhoBlockHeaderSer.CountOffset));
        for (int i = 1; i < 63; i++) Assert.Equal(b[1] + 16 + (ulong)(i * 64), s.ReserveEntry());
        Assert.Equal(0UL, s.ReserveEntry());
        Assert.Equal(63UL, K.Arena.ReadU64(b[1] + KhoBlockHeaderSer.CountOffset));
        Assert.Equal(b[0] + 16, s.SlotAddress(0));
        Assert.Equal(b[0] + 16 + (62 * 64), s.SlotAddress(62));
        Assert.Equal(b[1] + 16, s.SlotAddress(63));
        Assert.Equal(b[1] + 16 + 64, s.SlotAddress(64));
        Assert.Equal(126, s.ReadEntries().Count());
    }

    [Fact]
    public void Prev_steps_back_across_a_block_boundary_without_touching_counts()
    {
        var s = Set();
        Assert.Equal(Errno.Ok, s.Grow(52));
        var b = s.Blocks;
        s.BeginWrite();
        s.Prev(); // at slot 0 of block 0: stays
        Assert.Equal(b[0] + 16, s.ReserveEntry());
        s.Prev();
        Assert.Equal(b[0] + 16, s.ReserveEntry());
        for (int i = 1; i < 51; i++) s.ReserveEntry();
        Assert.Equal(b[1] + 16, s.ReserveEntry());
        s.Prev();
        s.Prev(); // back to the last slot of block 0
        Assert.Equal(1UL, K.Arena.ReadU64(b[1] + KhoBlockHeaderSer.CountOffset));
        Assert.Equal(b[0] + 16 + (50 * 80), s.ReserveEntry());
        Assert.Equal(b[1] + 16, s.ReserveEntry());
        Assert.Equal(b[1] + 16 + 80, s.ReserveEntry());
    }

    [Fact]
    public void Read_entries_follow_counts_capped_at_per_block_and_clear_zeroes_them()
    {
        var s = Set();
        Assert.Equal(Errno.Ok, s.Grow(52));
        var b = s.Blocks;
        K.Arena.WriteU64(b[0] + KhoBlockHeaderSer.CountOffset, 3);
        K.Arena.WriteU64(b[1] + KhoBlockHeaderSer.CountOffset, 1000); // hostile count: capped
        var e = s.ReadEntries().ToList();
        Assert.Equal(3 + 51, e.Count);
        Assert.Equal(b[0] + 16 + 160, e[2]);
        Assert.Equal(b[1] + 16, e[3]);
        Assert.Equal(b[1] + 16 + (50 * 80), e[^1]);
        K.Arena.Fill(b[0] + 100, 8, 0xAB);
        K.Arena.Fill(b[1] + 4088, 8, 0xCD);
        s.Clear();
        Assert.Empty(s.ReadEntries());
        Assert.Equal(b[1], K.Arena.ReadU64(b[0] + KhoBlockHeaderSer.NextOffset)); // links stay
        var page = new byte[4096 - 16];
        K.Arena.Read(b[0] + 16, page);
        Assert.All(page, x => Assert.Equal(0, x));
        K.Arena.Read(b[1] + 16, page);
        Assert.All(page, x => Assert.Equal(0, x));
        s.Destroy();
        Assert.Equal(0, s.BlockCount);
        Assert.Equal(0UL, s.ReserveEntry());
    }

    [Fact]
    public void Restore_adopts_a_well_formed_chain()
    {
        var src = Set();
        Assert.Equal(Errno.Ok, src.Grow(60));
        src.BeginWrite();
        for (int i = 0; i < 60; i++) src.ReserveEntry();
        var dst = Set();
        Assert.Equal(Errno.Ok, dst.Restore(0));
        Assert.True(dst.Incoming);
        Assert.Equal(0, dst.BlockCount);
        Assert.Equal(Errno.Ok, dst.Restore(src.HeadPa));
        Assert.Equal(src.Blocks, dst.Blocks);
        Assert.Equal(60, dst.ReadEntries().Count());
        Assert.Empty(K.Kho.Warnings);
    }

    [Fact]
    public void Restore_rejects_cycles_wild_pointers_and_bad_counts()
    {
        var src = Set();
        Assert.Equal(Errno.Ok, src.Grow(103));
        var b = src.Blocks.ToArray();
        foreach (ulong pa in b) K.Arena.WriteU64(pa + KhoBlockHeaderSer.CountOffset, 1);
        K.Arena.WriteU64(b[2] + KhoBlockHeaderSer.NextOffset, b[0]); // cycle of three
        var dst = Set();
        Assert.Equal(Errno.EINVAL, dst.Restore(b[0]));
        Assert.Equal(0, dst.BlockCount);
        Assert.Empty(K.Kho.Warnings); // nothing freed on a cycle
        K.Arena.WriteU64(b[2] + KhoBlockHeaderSer.NextOffset, b[2]); // self loop at the end
        Assert.Equal(Errno.EINVAL, Set().Restore(b[0]));
        Assert.Empty(K.Kho.Warnings);

        ulong wild = K.Arena.DramBytes + 4096;
        Assert.Equal(Errno.EINVAL, Set().Restore(wild));
        Assert.Empty(K.Kho.Warnings);

        K.Arena.WriteU64(b[2] + KhoBlockHeaderSer.NextOffset, 0);
        K.Arena.WriteU64(b[1] + KhoBlockHeaderSer.CountOffset, 52); // > per block
        dst = Set();
        Assert.Equal(Errno.EINVAL, dst.Restore(b[0]));
        Assert.Equal(0, dst.BlockCount);
        Assert.Equal(0UL, dst.HeadPa);
        // every block was handed to kho_restore_free() once: the bad block and the rest of the chain by the
        // tail walk, the adopted head by destroy (here the pages are not incoming: one warning each)
        Assert.Equal([b[1], b[2], b[0]], FreeFailures());
        K.Arena.WriteU64(b[1] + KhoBlockHeaderSer.CountOffset, 0); // count 0
        Assert.Equal(Errno.EINVAL, Set().Restore(b[0]));
        Assert.Equal([b[1], b[2], b[0], b[1], b[2], b[0]], FreeFailures());
        Assert.Equal(Errno.Ok, Set().Restore(b[2]));
    }

    [Fact]
    public void Destroy_rewinds_the_writer()
    {
        var s = Set();
        Assert.Equal(Errno.Ok, s.Grow(1));
        s.BeginWrite();
        s.ReserveEntry();
        s.ReserveEntry();
        s.Destroy();
        Assert.Equal(Errno.Ok, s.Grow(1));
        Assert.Equal(s.HeadPa + 16, s.ReserveEntry());
    }

    [Fact]
    public void Ten_thousand_blocks_is_the_limit_for_growth_and_for_restore()
    {
        var s = Set(2048); // one entry per block
        Assert.Equal(1, s.PerBlock);
        Assert.Equal(Errno.Ok, s.Grow(KhoBlockSet.MaxBlocks));
        Assert.Equal(KhoBlockSet.MaxBlocks, s.BlockCount);
        int preserved = K.Kho.PreservedBlocks().Count;
        Assert.Equal(Errno.ENOSPC, s.Grow(KhoBlockSet.MaxBlocks + 1));
        Assert.Equal(KhoBlockSet.MaxBlocks, s.BlockCount);
        Assert.Equal(preserved, K.Kho.PreservedBlocks().Count); // the 10001st page went back

        var extra = Set(2048);
        Assert.Equal(Errno.Ok, extra.Grow(1));
        foreach (ulong b in s.Blocks) K.Arena.WriteU64(b + KhoBlockHeaderSer.CountOffset, 1);
        K.Arena.WriteU64(extra.HeadPa + KhoBlockHeaderSer.CountOffset, 1);
        var restore = Set(2048);
        Assert.Equal(Errno.Ok, restore.Restore(s.HeadPa));
        Assert.Equal(KhoBlockSet.MaxBlocks, restore.BlockCount);
        K.Arena.WriteU64(s.Blocks[^1] + KhoBlockHeaderSer.NextOffset, extra.HeadPa); // a 10001-block chain
        restore = Set(2048);
        Assert.Equal(Errno.ENOSPC, restore.Restore(s.HeadPa));
        Assert.Equal(0, restore.BlockCount);
    }
}
