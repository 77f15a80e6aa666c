using System.Collections;

namespace LuoModel.Kho;

/// <summary>
/// The preserved blocks an incoming kernel read from the preserved-memory-map (kho.md §1.7 step 3), in walk order,
/// one u64 each: the block's page-aligned physical address with its order in the low bits (the order is below the
/// page shift, so the two never overlap). A 4096 × 16 LUO handover carries hundreds of thousands of order-0 keys;
/// as (address, order) pairs the list cost twice the memory at every boot (bench/README.md, LUO round trip).
/// </summary>
public sealed class PreservedBlockList : IReadOnlyList<(ulong Phys, int Order)>
{
    private const ulong OrderMask = PhysicalArena.PageSize - 1;
    private readonly List<ulong> _keys = [];
    // A kho-v1 chunk names its own start address, which hostile bytes can leave unaligned: from the first such
    // block on, the list keeps plain pairs (the packed form cannot hold the low bits).
    private List<(ulong Phys, int Order)>? _wide;

    /// <summary>Number of blocks.</summary>
    public int Count => _wide?.Count ?? _keys.Count;

    /// <summary>Block <paramref name="index"/> in walk order.</summary>
    public (ulong Phys, int Order) this[int index]
    {
        get
        {
            if (_wide is not null) return _wide[index];
            ulong key = _keys[index];
            return (key & ~OrderMask, (int)(key & OrderMask));
        }
    }

    /// <summary>Appends a block.</summary>
    internal void Add(ulong phys, int order)
    {
        if (_wide is null && (phys & OrderMask) == 0 && (uint)order <= OrderMask)
        {
            _keys.Add(phys | (uint)order);
            return;
        }
        if (_wide is null)
        {
            var wide = new List<(ulong, int)>(_keys.Count + 1);
            for (int i = 0; i < _keys.Count; i++) wide.Add(this[i]);
            _keys.Clear();
            _wide = wide;
        }
        _wide.Add((phys, order));
    }

    /// <summary>Drops every block (a failed walk keeps none).</summary>
    internal void Clear()
    {
        _keys.Clear();
        _wide = null;
    }

    /// <summary>Enumerates in walk order without allocating.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<(ulong Phys, int Order)> IEnumerable<(ulong Phys, int Order)>.GetEnumerator() => GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Walk-order enumerator.</summary>
    public struct Enumerator(PreservedBlockList list) : IEnumerator<(ulong Phys, int Order)>
    {
        private int _i = -1;

        /// <summary>The current block.</summary>
        public readonly (ulong Phys, int Order) Current => list[_i];
        readonly object IEnumerator.Current => Current;
        /// <summary>Advances.</summary>
        public bool MoveNext() => ++_i < list.Count;
        /// <summary>Restarts.</summary>
        public void Reset() => _i = -1;
        /// <summary>Nothing to release.</summary>
        public readonly void Dispose() { }
    }
}
