using LuoModel.Kernel;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of FdTable.cs (`kernel` chunk): slot counting on insert,
/// replace and remove in the dense array and in the side table for numbers at or above 2^20, the exact boundary
/// between the two, and the errors for a negative number or a missing slot.</summary>
public class FdTableSurvivorTests
{
    private const int DenseLimit = 1 << 20;
    private static readonly FdEntry Reserved = new(null, true);
    private static readonly FdEntry Plain = new(null, false);

    [Fact]
    public void Numbers_from_two_pow_20_live_in_the_side_table_and_are_counted_once()
    {
        var t = new FdTable();
        t[DenseLimit] = Reserved;
        Assert.Equal(1, t.Count);
        Assert.True(t.TryGetValue(DenseLimit, out var e));
        Assert.Equal(Reserved, e);
        t[DenseLimit + 5] = Plain;
        Assert.Equal(2, t.Count);
        Assert.True(t.ContainsKey(DenseLimit));           // the first entry survives the second insert
        t[DenseLimit] = Plain;                            // replacing does not count again
        Assert.Equal(2, t.Count);
        Assert.True(t.TryGetValue(DenseLimit, out e));
        Assert.Equal(Plain, e);
        t[DenseLimit - 1] = Reserved;                     // the last dense number
        Assert.Equal(3, t.Count);
        Assert.Equal([DenseLimit - 1, DenseLimit, DenseLimit + 5], t.Select(kv => kv.Key));
    }

    [Fact]
    public void Dense_slots_count_on_first_use_and_on_remove_only()
    {
        var t = new FdTable();
        t[3] = Reserved;
        t[3] = Plain;
        Assert.Equal(1, t.Count);
        Assert.Equal(Plain, t[3]);
        Assert.False(t.Remove(4));                        // inside the array, never used
        Assert.False(t.Remove(64));                       // just past the initial array
        Assert.False(t.Remove(100_000));
        Assert.False(t.Remove(-1));
        Assert.Equal(1, t.Count);
        Assert.True(t.Remove(3));
        Assert.Equal(0, t.Count);
        Assert.False(t.ContainsKey(3));
        Assert.False(t.Remove(3));
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void Side_table_removal()
    {
        var t = new FdTable();
        Assert.False(t.Remove(DenseLimit + 1));           // no side table yet
        t[DenseLimit] = Plain;
        t[DenseLimit + 1] = Plain;
        t[7] = Plain;
        Assert.Equal(3, t.Count);
        Assert.False(t.Remove(500));
        Assert.True(t.Remove(DenseLimit));
        Assert.Equal(2, t.Count);
        Assert.False(t.ContainsKey(DenseLimit));
        Assert.False(t.Remove(DenseLimit));
        Assert.Equal(2, t.Count);
        Assert.True(t.Remove(DenseLimit + 1));
        Assert.Equal(1, t.Count);
        Assert.Equal([7], t.Select(kv => kv.Key));
    }

    [Fact]
    public void Negative_numbers_and_missing_slots_are_usage_errors()
    {
        var t = new FdTable();
        Assert.Throws<ArgumentOutOfRangeException>(() => t[-1] = Plain);
        Assert.Equal(0, t.Count);
        var ex = Assert.Throws<KeyNotFoundException>(() => t[5]);
        Assert.Equal("fd 5 not in the table", ex.Message);
    }
}
