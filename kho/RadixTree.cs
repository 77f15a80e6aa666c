using System.Buffers.Binary;
using System.Numerics;

namespace LuoModel.Kho;

/// <summary>Callbacks of a radix-tree walk (kho_radix_walk_tree(), kho.md §3.1). Implemented by structs so
/// the walk is generic and allocation-free.</summary>
public interface IRadixVisitor
{
    /// <summary>Node callback (N): physical address of every table and leaf, pre-order, root included.
    /// Non-zero stops the walk.</summary>
    int Node(ulong phys, int level);

    /// <summary>Leaf callback: one set bit, with the reconstructed key. Non-zero stops the walk.</summary>
    int Key(ulong key);
}

/// <summary>Why a walk over untrusted tree bytes stopped (model-defined; the kernel does not check these,
/// but a model must not hang or read outside memory, issue 4 §3).</summary>
public enum RadixWalkError
{
    /// <summary>Walk completed or was stopped by a callback.</summary>
    None,
    /// <summary>A slot points outside DRAM.</summary>
    PointerOutsideMemory,
    /// <summary>A slot is not 4 KiB aligned.</summary>
    PointerUnaligned,
    /// <summary>A page is reachable twice (the structure is not a tree).</summary>
    NotATree,
}

/// <summary>
/// The preserved-memory radix tree written into arena pages (kho.md §3.1): tables of 512 little-endian u64
/// physical addresses at levels 5..1, a 32768-bit leaf bitmap at level 0. Nodes are never freed while the
/// tree lives. A host-side cache remembers the last leaf touched so runs of pages cost one bit operation.
/// </summary>
public sealed class RadixTree
{
    private const int Slots = 1 << RadixKey.TableSizeLog2;
    private readonly PhysicalArena _arena;
    private readonly PageAllocator? _alloc;
    private readonly List<ulong> _nodes = [];
    private ulong _cachePrefix = ulong.MaxValue;
    private byte[]? _cacheLeaf;

    /// <summary>Wraps an existing root table (incoming kernel: read-only use).</summary>
    public RadixTree(PhysicalArena arena, ulong rootPhys, PageAllocator? allocator)
    {
        ArgumentNullException.ThrowIfNull(arena);
        _arena = arena;
        _alloc = allocator;
        Root = rootPhys;
        _nodes.Add(rootPhys);
    }

    /// <summary>kho_radix_init_tree(): allocates a zeroed root table; null when allocation fails.</summary>
    public static RadixTree? Create(PhysicalArena arena, PageAllocator allocator)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        if (!allocator.TryAlloc(0, AllocFlags.Zeroed, out ulong pfn)) return null;
        return new RadixTree(arena, pfn << PhysicalArena.PageShift, allocator);
    }

    /// <summary>Physical address of the level-5 root table.</summary>
    public ulong Root { get; }

    /// <summary>Every table/leaf page this tree allocated, root first, in allocation order (pages only grow).</summary>
    public IReadOnlyList<ulong> NodePages => _nodes;

    /// <summary>Test hook: the broken tracker of the property-test demonstrations.</summary>
    internal RadixFault Fault { get; set; }

    /// <summary>kho_radix_add_key()/kho_radix_add_page(): sets the key's bit, allocating missing nodes.
    /// On allocation failure the pages created for this call are freed, the first filled slot is reset and
    /// -ENOMEM is returned (§3.1 Add).</summary>
    public Errno Add(ulong key)
    {
        if (Fault == RadixFault.DropOddLeafBits && (key & 1) != 0 && (key & 0x10) != 0) return Errno.Ok;
        if ((key >> RadixKey.BitmapSizeLog2) == _cachePrefix)
        {
            SetBit(_cacheLeaf!, RadixKey.LeafBit(key));
            return Errno.Ok;
        }
        if (_alloc is null) throw new InvalidOperationException("read-only tree");
        ulong node = Root, anchor = 0;
        Span<ulong> fresh = stackalloc ulong[RadixKey.MaxDepth];
        int nFresh = 0;
        for (int level = RadixKey.MaxDepth - 1; level >= 1; level--)
        {
            ulong slotPhys = node + 8UL * (uint)RadixKey.Slot(key, level);
            byte[] page = _arena.PageForWrite(slotPhys >> PhysicalArena.PageShift);
            int off = (int)(slotPhys & (PhysicalArena.PageSize - 1));
            ulong child = BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(off));
            if (child == 0)
            {
                if (Fault == RadixFault.RandomPlacement && Random.Shared.Next(2) == 0) _alloc.TryAlloc(0, AllocFlags.None, out _);
                if (!_alloc.TryAlloc(0, AllocFlags.Zeroed, out ulong pfn))
                {
                    for (int i = 0; i < nFresh; i++) { _alloc.Free(fresh[i] >> PhysicalArena.PageShift, 0); _nodes.Remove(fresh[i]); }
                    if (anchor != 0) _arena.WriteU64(anchor, 0);
                    return Errno.ENOMEM;
                }
                child = pfn << PhysicalArena.PageShift;
                fresh[nFresh++] = child;
                _nodes.Add(child);
                BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(off), child);
                if (anchor == 0) anchor = slotPhys;
            }
            node = child;
        }
        byte[] leaf = _arena.PageForWrite(node >> PhysicalArena.PageShift);
        SetBit(leaf, RadixKey.LeafBit(key));
        _cachePrefix = key >> RadixKey.BitmapSizeLog2;
        _cacheLeaf = leaf;
        return Errno.Ok;
    }

    /// <summary>kho_radix_del_key()/kho_radix_del_page(): clears the key's bit. Returns false when an
    /// intermediate node is missing (the kernel WARNs); a clear bit on an existing path is a silent no-op.</summary>
    public bool Del(ulong key)
    {
        int bit = RadixKey.LeafBit(key);
        if (Fault == RadixFault.DelClearsNeighbour) bit ^= 2;
        if ((key >> RadixKey.BitmapSizeLog2) == _cachePrefix)
        {
            ClearBit(_cacheLeaf!, bit);
            return true;
        }
        ulong node = Root;
        for (int level = RadixKey.MaxDepth - 1; level >= 1; level--)
        {
            ulong child = _arena.ReadU64(node + 8UL * (uint)RadixKey.Slot(key, level));
            if (child == 0) return false;
            node = child;
        }
        byte[] leaf = _arena.PageForWrite(node >> PhysicalArena.PageShift);
        ClearBit(leaf, bit);
        _cachePrefix = key >> RadixKey.BitmapSizeLog2;
        _cacheLeaf = leaf;
        return true;
    }

    /// <summary>True when the key's bit is set.</summary>
    public bool Contains(ulong key)
    {
        ulong node = Root;
        for (int level = RadixKey.MaxDepth - 1; level >= 1; level--)
        {
            node = _arena.ReadU64(node + 8UL * (uint)RadixKey.Slot(key, level));
            if (node == 0) return false;
        }
        int bit = RadixKey.LeafBit(key);
        return (_arena.PageForRead(node >> PhysicalArena.PageShift)[bit >> 3] & (1 << (bit & 7))) != 0;
    }

    private static void SetBit(byte[] leaf, int bit) => leaf[bit >> 3] |= (byte)(1 << (bit & 7));
    private static void ClearBit(byte[] leaf, int bit) => leaf[bit >> 3] &= (byte)~(1 << (bit & 7));

    /// <summary>kho_radix_walk_tree(): depth-first, slots ascending, bits ascending, so keys arrive in
    /// ascending order (descending block order, then ascending address).</summary>
    public int Walk<TVisitor>(ref TVisitor visitor) where TVisitor : struct, IRadixVisitor
        => Walk(_arena, Root, ref visitor, null, out _);

    /// <summary>Walks a tree given by its root address in <paramref name="arena"/>. With
    /// <paramref name="visited"/> the bytes are treated as untrusted: pointers outside DRAM, unaligned pointers
    /// and pages reachable twice stop the walk with <paramref name="error"/> instead of hanging or faulting.</summary>
    public static int Walk<TVisitor>(PhysicalArena arena, ulong root, ref TVisitor visitor, HashSet<ulong>? visited, out RadixWalkError error)
        where TVisitor : struct, IRadixVisitor
    {
        ArgumentNullException.ThrowIfNull(arena);
        error = RadixWalkError.None;
        if (visited is not null && (error = CheckPointer(arena, root, visited)) != RadixWalkError.None) return 0;
        return WalkLevel(arena, root, RadixKey.MaxDepth - 1, 0, ref visitor, visited, ref error);
    }

    private static RadixWalkError CheckPointer(PhysicalArena arena, ulong phys, HashSet<ulong> visited)
    {
        if ((phys & (PhysicalArena.PageSize - 1)) != 0) return RadixWalkError.PointerUnaligned;
        if (!arena.Contains(phys, PhysicalArena.PageSize)) return RadixWalkError.PointerOutsideMemory;
        return visited.Add(phys) ? RadixWalkError.None : RadixWalkError.NotATree;
    }

    private static int WalkLevel<TVisitor>(PhysicalArena arena, ulong node, int level, ulong prefix, ref TVisitor v,
        HashSet<ulong>? visited, ref RadixWalkError error) where TVisitor : struct, IRadixVisitor
    {
        int rc = v.Node(node, level);
        if (rc != 0) return rc;
        ReadOnlySpan<byte> page = arena.PageForRead(node >> PhysicalArena.PageShift);
        if (level == 0)
        {
            for (int w = 0; w < PhysicalArena.PageSize / 8; w++)
            {
                ulong word = BinaryPrimitives.ReadUInt64LittleEndian(page[(w * 8)..]);
                while (word != 0)
                {
                    int b = BitOperations.TrailingZeroCount(word);
                    word &= word - 1;
                    rc = v.Key(prefix | (uint)(w * 64 + b));
                    if (rc != 0) return rc;
                }
            }
            return 0;
        }
        int shift = RadixKey.BitmapSizeLog2 + RadixKey.TableSizeLog2 * (level - 1);
        for (int i = 0; i < Slots; i++)
        {
            ulong child = BinaryPrimitives.ReadUInt64LittleEndian(page[(i * 8)..]);
            if (child == 0) continue;
            if (visited is not null && (error = CheckPointer(arena, child, visited)) != RadixWalkError.None) return 0;
            rc = WalkLevel(arena, child, level - 1, prefix | ((ulong)i << shift), ref v, visited, ref error);
            if (rc != 0 || error != RadixWalkError.None) return rc;
            // the page span may be stale only if the visitor wrote the arena; it does not.
        }
        return 0;
    }
}

/// <summary>Deliberate tracker bugs used only to show that properties can fail (property-tests).</summary>
internal enum RadixFault
{
    None,
    /// <summary>Add silently drops keys with bits 0 and 4 set.</summary>
    DropOddLeafBits,
    /// <summary>Del clears bit (i XOR 2) instead of bit i.</summary>
    DelClearsNeighbour,
    /// <summary>Node pages land at random addresses (map bytes no longer a function of the calls).</summary>
    RandomPlacement,
}
