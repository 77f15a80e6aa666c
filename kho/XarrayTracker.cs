using System.Buffers.Binary;

namespace LuoModel.Kho;

/// <summary>
/// The kho-v1 tracker of the 48a1b232 era (kho.md §3.3): per order, bitmaps of PRESERVE_BITS = 32768 bits in
/// zeroed arena pages indexed by pfn_high / PRESERVE_BITS (the xarrays themselves are host-side), serialized at
/// kho_finalize() into a chain of 4 KiB chunks (khoser_mem_chunk).
/// </summary>
public sealed class XarrayTracker
{
    /// <summary>PRESERVE_BITS (page-size bitmaps).</summary>
    public const int PreserveBits = PhysicalArena.PageSize * 8;
    /// <summary>Entries per khoser_mem_chunk: (4096 − 16) / 16.</summary>
    public const int ChunkEntries = (PhysicalArena.PageSize - ChunkHeaderSize) / EntrySize;
    /// <summary>sizeof(khoser_mem_chunk_hdr).</summary>
    public const int ChunkHeaderSize = 16;
    /// <summary>sizeof(khoser_mem_bitmap_ptr).</summary>
    public const int EntrySize = 16;
    /// <summary>Header field offsets.</summary>
    public const int NextOffset = 0, OrderOffset = 8, NumElmsOffset = 12;
    /// <summary>Entry field offsets.</summary>
    public const int PhysStartOffset = 0, BitmapOffset = 8;

    private readonly PhysicalArena _arena;
    private readonly PageAllocator _alloc;
    private readonly SortedDictionary<int, SortedDictionary<ulong, ulong>> _orders = [];
    private readonly List<ulong> _chunks = [];

    internal XarrayTracker(PhysicalArena arena, PageAllocator alloc)
    {
        _arena = arena;
        _alloc = alloc;
    }

    /// <summary>Chunk pages of the current serialization (empty when not finalized).</summary>
    public IReadOnlyList<ulong> ChunkPages => _chunks;

    /// <summary>Bitmap pages, by order then index.</summary>
    public IEnumerable<ulong> BitmapPages => _orders.Values.SelectMany(d => d.Values);

    /// <summary>__kho_preserve_order(): sets the bit, allocating the bitmap page (xa_load_or_alloc) → -ENOMEM.</summary>
    public Errno Add(ulong pfn, int order)
    {
        ulong high = pfn >> order;
        ulong index = high / PreserveBits;
        if (!_orders.TryGetValue(order, out var bitmaps)) _orders[order] = bitmaps = [];
        if (!bitmaps.TryGetValue(index, out ulong bm))
        {
            if (!_alloc.TryAlloc(0, AllocFlags.Zeroed, out ulong p))
            {
                if (bitmaps.Count == 0) _orders.Remove(order);
                return Errno.ENOMEM;
            }
            bitmaps[index] = bm = p << PhysicalArena.PageShift;
        }
        int bit = (int)(high % PreserveBits);
        _arena.PageForWrite(bm >> PhysicalArena.PageShift)[bit >> 3] |= (byte)(1 << (bit & 7));
        return Errno.Ok;
    }

    /// <summary>__kho_unpreserve_order(): clears the bit when its bitmap exists (no warning in this era).</summary>
    public void Del(ulong pfn, int order)
    {
        ulong high = pfn >> order;
        if (!_orders.TryGetValue(order, out var bitmaps) || !bitmaps.TryGetValue(high / PreserveBits, out ulong bm)) return;
        int bit = (int)(high % PreserveBits);
        _arena.PageForWrite(bm >> PhysicalArena.PageShift)[bit >> 3] &= (byte)~(1 << (bit & 7));
    }

    /// <summary>All set (pfn, order) pairs, by order then address.</summary>
    public IEnumerable<(ulong Pfn, int Order)> Keys()
    {
        foreach (var (order, bitmaps) in _orders)
            foreach (var (index, bm) in bitmaps)
            {
                byte[] page = _arena.PageForWrite(bm >> PhysicalArena.PageShift);
                for (int b = 0; b < PreserveBits; b++)
                    if ((page[b >> 3] & (1 << (b & 7))) != 0) yield return ((index * PreserveBits + (ulong)b) << order, order);
            }
    }

    /// <summary>kho_mem_serialize(): builds the chunk chain, returning the first chunk's phys (0 when nothing is
    /// tracked); -ENOMEM frees the partial chain.</summary>
    public Errno Serialize(out ulong first)
    {
        first = 0;
        FreeChunks();
        ulong prev = 0, cur = 0;
        int n = 0;
        Span<byte> u32 = stackalloc byte[4];
        foreach (var (order, bitmaps) in _orders)
        {
            bool fresh = true;
            foreach (var (index, bm) in bitmaps)
            {
                if (fresh || n == ChunkEntries)
                {
                    if (!_alloc.TryAlloc(0, AllocFlags.Zeroed, out ulong p)) { FreeChunks(); first = 0; return Errno.ENOMEM; }
                    prev = cur;
                    cur = p << PhysicalArena.PageShift;
                    _chunks.Add(cur);
                    if (prev != 0) _arena.WriteU64(prev + NextOffset, cur); else first = cur;
                    BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)order);
                    _arena.Write(cur + OrderOffset, u32);
                    n = 0;
                    fresh = false;
                }
                ulong e = cur + ChunkHeaderSize + (ulong)(n * EntrySize);
                _arena.WriteU64(e + PhysStartOffset, (index * PreserveBits) << (PhysicalArena.PageShift + order));
                _arena.WriteU64(e + BitmapOffset, bm);
                n++;
                BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)n);
                _arena.Write(cur + NumElmsOffset, u32);
            }
        }
        return Errno.Ok;
    }

    /// <summary>Frees the serialized chain (kho_abort / re-finalize).</summary>
    public void FreeChunks()
    {
        foreach (ulong c in _chunks) _alloc.Free(c >> PhysicalArena.PageShift, 0);
        _chunks.Clear();
    }

    /// <summary>kho_mem_deserialize() over untrusted bytes: calls <paramref name="block"/> for every set bit of
    /// every chunk; a chunk or bitmap outside memory, a repeated chunk (cycle), num_elms &gt; 255 or an order
    /// whose blocks cannot be addressed stop with a message (model-defined checks).</summary>
    public static string? Deserialize(PhysicalArena arena, ulong first, Action<ulong, int> block, List<ulong>? metadataPages)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(block);
        var seen = new HashSet<ulong>();
        for (ulong c = first; c != 0;)
        {
            if ((c & (PhysicalArena.PageSize - 1)) != 0 || !arena.Contains(c, PhysicalArena.PageSize)) return $"chunk 0x{c:x} outside memory or unaligned";
            if (!seen.Add(c)) return $"chunk chain revisits 0x{c:x}";
            metadataPages?.Add(c);
            ReadOnlySpan<byte> page = arena.PageForRead(c >> PhysicalArena.PageShift);
            uint order = BinaryPrimitives.ReadUInt32LittleEndian(page[OrderOffset..]);
            uint num = BinaryPrimitives.ReadUInt32LittleEndian(page[NumElmsOffset..]);
            if (num > ChunkEntries) return $"chunk 0x{c:x}: num_elms {num} > {ChunkEntries}";
            if (order > RadixKey.MaxOrder) return $"chunk 0x{c:x}: order {order} too large";
            for (int i = 0; i < num; i++)
            {
                int e = ChunkHeaderSize + i * EntrySize;
                ulong start = BinaryPrimitives.ReadUInt64LittleEndian(page[(e + PhysStartOffset)..]);
                ulong bm = BinaryPrimitives.ReadUInt64LittleEndian(page[(e + BitmapOffset)..]);
                if ((bm & (PhysicalArena.PageSize - 1)) != 0 || !arena.Contains(bm, PhysicalArena.PageSize)) return $"bitmap 0x{bm:x} outside memory or unaligned";
                metadataPages?.Add(bm);
                ReadOnlySpan<byte> bits = arena.PageForRead(bm >> PhysicalArena.PageShift);
                int shift = PhysicalArena.PageShift + (int)order;
                for (int b = 0; b < PreserveBits; b++)
                {
                    if ((bits[b >> 3] & (1 << (b & 7))) == 0) continue;
                    ulong off = (ulong)b << shift;
                    if (shift + 15 > 64 && (off >> shift) != (ulong)b) return "block address overflows";
                    ulong phys = start + off;
                    if (phys < start || ((ulong)PhysicalArena.PageSize << (int)order) - 1 > ulong.MaxValue - phys) return "block address overflows";
                    block(phys, (int)order);
                }
            }
            c = BinaryPrimitives.ReadUInt64LittleEndian(page[NextOffset..]);
        }
        return null;
    }
}
