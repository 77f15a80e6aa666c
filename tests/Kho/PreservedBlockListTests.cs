using LuoModel.Kho;

namespace LuoModel.Tests.Kho;

/// <summary>The incoming kernel's packed list of preserved blocks (HandoverReader, kho.md §1.7 step 3).</summary>
public sealed class PreservedBlockListTests
{
    [Fact]
    public void Aligned_blocks_keep_address_order_and_walk_order()
    {
        var l = new PreservedBlockList();
        l.Add(0x1_2345_6000, 0);
        l.Add(0x8000_0000, 18);
        l.Add(0xFFFF_F000, 4095); // the largest order the packed form holds
        Assert.Equal(3, l.Count);
        Assert.Equal([(0x1_2345_6000UL, 0), (0x8000_0000UL, 18), (0xFFFF_F000UL, 4095)], l.ToArray());
        Assert.Equal((0x8000_0000UL, 18), l[1]);
    }

    [Fact]
    public void An_unaligned_block_keeps_every_bit_and_the_blocks_before_it()
    {
        var l = new PreservedBlockList();
        l.Add(0x4000, 2);
        l.Add(0x5001, 0); // a hostile kho-v1 chunk start
        l.Add(0x6000, 4096); // an order past the packed range
        l.Add(0x7000, 1);
        Assert.Equal([(0x4000UL, 2), (0x5001UL, 0), (0x6000UL, 4096), (0x7000UL, 1)], l.ToArray());
        l.Clear();
        Assert.Empty(l);
        l.Add(0x9000, 3);
        Assert.Equal((0x9000UL, 3), Assert.Single(l));
    }

    [Fact]
    public void The_enumerator_can_restart()
    {
        var l = new PreservedBlockList();
        l.Add(0x1000, 0);
        l.Add(0x2000, 1);
        var e = l.GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.True(e.MoveNext());
        Assert.Equal((0x2000UL, 1), e.Current);
        Assert.False(e.MoveNext());
        e.Reset();
        Assert.True(e.MoveNext());
        Assert.Equal((0x1000UL, 0), e.Current);
    }
}
