using System.Numerics;

namespace LuoModel.Kho;

/// <summary>Key encoding of the preserved-memory radix tree (kho.md §3.1).</summary>
public static class RadixKey
{
    /// <summary>KHO_ORDER_0_LOG2 (M): bit position of the order-0 marker.</summary>
    public const int Order0Log2 = 64 - PhysicalArena.PageShift;
    /// <summary>KHO_RADIX_KEY_WIDTH (N, inferred 53).</summary>
    public const int KeyWidth = Order0Log2 + 1;
    /// <summary>KHO_TABLE_SIZE_LOG2: 512 slots per table.</summary>
    public const int TableSizeLog2 = 9;
    /// <summary>KHO_BITMAP_SIZE_LOG2: 32768 bits per leaf.</summary>
    public const int BitmapSizeLog2 = 15;
    /// <summary>KHO_TREE_MAX_DEPTH: levels 5..1 are tables, 0 is the leaf.</summary>
    public const int MaxDepth = 6;
    /// <summary>Largest order whose key still fits (order 52 has marker bit 0).</summary>
    public const int MaxOrder = Order0Log2;

    /// <summary>Encodes (phys, order): marker 2^(52 − order) OR phys &gt;&gt; (12 + order). Low address bits
    /// below the block size are dropped as in the kernel.</summary>
    public static ulong Encode(ulong phys, int order)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(order);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(order, MaxOrder);
        return (1UL << (Order0Log2 - order)) | (phys >> (PhysicalArena.PageShift + order));
    }

    /// <summary>Decodes a key; false for 0 or a key whose marker lies above bit 52 (no valid order).</summary>
    public static bool TryDecode(ulong key, out ulong phys, out int order)
    {
        phys = 0;
        order = 0;
        if (key == 0) return false;
        int b = 63 - BitOperations.LeadingZeroCount(key);
        if (b > Order0Log2) return false;
        order = Order0Log2 - b;
        phys = key << (PhysicalArena.PageShift + order);
        return true;
    }

    /// <summary>Table slot of <paramref name="key"/> at <paramref name="level"/> (1..5).</summary>
    public static int Slot(ulong key, int level) => (int)(key >> (BitmapSizeLog2 + TableSizeLog2 * (level - 1))) & ((1 << TableSizeLog2) - 1);

    /// <summary>Leaf bit index of <paramref name="key"/>.</summary>
    public static int LeafBit(ulong key) => (int)(key & ((1UL << BitmapSizeLog2) - 1));
}
