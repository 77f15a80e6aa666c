using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>
/// A chain of one-page serialization blocks (kernel/liveupdate/kho_block.c, luo.md §2.6): 16-byte header
/// {next, count} + fixed-size entries. Outgoing blocks are kho_alloc_preserve()d zeroed pages; incoming ones
/// are adopted from the previous kernel and restored-and-freed when removed.
/// </summary>
public sealed class KhoBlockSet
{
    /// <summary>KHO_MAX_BLOCKS.</summary>
    public const int MaxBlocks = 10000;
    /// <summary>KHO_BLOCK_SIZE.</summary>
    public const int BlockSize = PhysicalArena.PageSize;

    private readonly Kho.Kho _kho;
    private readonly FaultInjector _faults;
    private readonly FaultPoint _growPoint;
    private readonly List<ulong> _blocks = [];
    private int _writeBlock, _writeSlot; // block index and slot of the next reserve_entry()

    private readonly LuoMutant _mutants;
    private ulong _lastFreed; // only used by the ReuseFreedBlock mutant

    internal KhoBlockSet(Kho.Kho kho, FaultInjector faults, FaultPoint growPoint, int entrySize, LuoMutant mutants = LuoMutant.None)
    {
        _mutants = mutants;
        _kho = kho;
        _faults = faults;
        _growPoint = growPoint;
        EntrySize = entrySize;
        PerBlock = (BlockSize - KhoBlockHeaderSer.Size) / entrySize;
    }

    /// <summary>Size of one entry.</summary>
    public int EntrySize { get; }
    /// <summary>count_per_block = (PAGE_SIZE − 16) / entry_size.</summary>
    public int PerBlock { get; }
    /// <summary>nblocks.</summary>
    public int BlockCount => _blocks.Count;
    /// <summary>head_pa (0 when empty).</summary>
    public ulong HeadPa => _blocks.Count == 0 ? 0 : _blocks[0];
    /// <summary>True for a set adopted from the previous kernel.</summary>
    public bool Incoming { get; private set; }
    /// <summary>Physical addresses of the blocks in chain order.</summary>
    public IReadOnlyList<ulong> Blocks => _blocks;

    private Errno AddBlock()
    {
        Errno rc = _faults.Check(_growPoint);
        if (rc == Errno.Ok && (_mutants & LuoMutant.ReuseFreedBlock) != 0 && _lastFreed != 0) // mutant: ReuseFreedBlock
        {
            if (_blocks.Count > 0) _kho.Arena.WriteU64(_blocks[^1] + KhoBlockHeaderSer.NextOffset, _lastFreed);
            _blocks.Add(_lastFreed);
            _lastFreed = 0;
            return Errno.Ok;
        }
        if (rc == Errno.Ok) rc = _faults.Check(FaultPoint.KhoAllocPreserve, "block");
        ulong phys = 0;
        if (rc == Errno.Ok && _kho.AllocPreserve(BlockSize, out phys) != Errno.Ok) rc = Errno.ENOMEM;
        if (rc != Errno.Ok) return rc;
        if (_blocks.Count >= MaxBlocks)
        {
            _kho.UnpreserveFree(phys);
            return Errno.ENOSPC;
        }
        if (_blocks.Count > 0) _kho.Arena.WriteU64(_blocks[^1] + KhoBlockHeaderSer.NextOffset, phys);
        _blocks.Add(phys);
        // The kernel zeroes the page here (__GFP_ZERO); the sparse arena would only materialise it on the first
        // write at reboot. Materialising now puts that host cost where the kernel pays it (no byte changes).
        _kho.Arena.PageForWrite(phys >> PhysicalArena.PageShift);
        return Errno.Ok;
    }

    private void RemoveLast()
    {
        ulong last = _blocks[^1];
        _blocks.RemoveAt(_blocks.Count - 1);
        if (_blocks.Count > 0) _kho.Arena.WriteU64(_blocks[^1] + KhoBlockHeaderSer.NextOffset, 0);
        if (Incoming) _kho.RestoreFree(last);
        else _kho.UnpreserveFree(last);
        if (!Incoming) _lastFreed = last;
    }

    /// <summary>kho_block_set_grow(n): adds blocks until n entries fit; ENOMEM / ENOSPC; on failure every
    /// block added by this call is removed again.</summary>
    public Errno Grow(long n)
    {
        int before = _blocks.Count;
        while (n > (long)_blocks.Count * PerBlock)
        {
            Errno rc = AddBlock();
            if (rc != Errno.Ok)
            {
                while (_blocks.Count > before) RemoveLast();
                return rc;
            }
        }
        return Errno.Ok;
    }

    /// <summary>kho_block_set_shrink(n): removes trailing blocks not needed for n entries.</summary>
    public void Shrink(long n)
    {
        while (_blocks.Count > 0 && n <= (long)(_blocks.Count - 1) * PerBlock) RemoveLast();
    }

    /// <summary>Removes every block (destroy).</summary>
    public void Destroy()
    {
        while (_blocks.Count > 0) RemoveLast();
        BeginWrite();
    }

    /// <summary>kho_block_set_clear(): every header count := 0 and entry area zeroed.</summary>
    public void Clear()
    {
        foreach (ulong b in _blocks)
        {
            _kho.Arena.WriteU64(b + KhoBlockHeaderSer.CountOffset, 0);
            _kho.Arena.Fill(b + KhoBlockHeaderSer.Size, BlockSize - KhoBlockHeaderSer.Size, 0);
        }
    }

    /// <summary>Starts a writer iteration at slot 0.</summary>
    public void BeginWrite() => (_writeBlock, _writeSlot) = (0, 0);

    /// <summary>kho_block_reserve_entry(): physical address of the next slot (0 = NULL past the last block);
    /// sets that block's header count to the slot index + 1.</summary>
    public ulong ReserveEntry()
    {
        if (_writeBlock >= _blocks.Count) return 0;
        ulong block = _blocks[_writeBlock];
        int s = _writeSlot;
        _kho.Arena.WriteU64(block + KhoBlockHeaderSer.CountOffset, (ulong)(s + 1));
        if (++_writeSlot == PerBlock) (_writeBlock, _writeSlot) = (_writeBlock + 1, 0);
        return block + KhoBlockHeaderSer.Size + ((ulong)s * (ulong)EntrySize);
    }

    /// <summary>kho_block_prev(): steps the writer back one slot; header counts unchanged.</summary>
    public void Prev()
    {
        if (_writeSlot > 0) _writeSlot--;
        else if (_writeBlock > 0) (_writeBlock, _writeSlot) = (_writeBlock - 1, PerBlock - 1);
    }

    /// <summary>Physical address of linear slot <paramref name="i"/> (for rollback walks).</summary>
    public ulong SlotAddress(int i) => _blocks[i / PerBlock] + KhoBlockHeaderSer.Size + ((ulong)(i % PerBlock) * (ulong)EntrySize);

    /// <summary>kho_block_read_entry(): entries 0..count-1 of each block in chain order. A struct enumerable, so the
    /// next kernel's deserialization walks every session's file blocks without an iterator object per session.</summary>
    public EntryWalk ReadEntries() => new(this);

    /// <summary>The entries of a block set in chain order (see <see cref="ReadEntries"/>); foreach allocates nothing.</summary>
    public readonly struct EntryWalk(KhoBlockSet set) : IEnumerable<ulong>
    {
        /// <summary>The allocation-free enumerator foreach binds to.</summary>
        public EntryEnumerator GetEnumerator() => new(set);
        IEnumerator<ulong> IEnumerable<ulong>.GetEnumerator() => GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Walks block by block; each block's header count is read when the walk enters it (capped at the
    /// slots a block has).</summary>
    public struct EntryEnumerator(KhoBlockSet set) : IEnumerator<ulong>
    {
        private int _block = -1;
        private ulong _slot, _count;

        /// <summary>Physical address of the current entry.</summary>
        public ulong Current { get; private set; }
        readonly object System.Collections.IEnumerator.Current => Current;

        /// <summary>Advances to the next entry, entering the next block when this one is exhausted.</summary>
        public bool MoveNext()
        {
            while (_slot >= _count)
            {
                if (++_block >= set._blocks.Count) return false;
                _slot = 0;
                _count = Math.Min(set._kho.Arena.ReadU64(set._blocks[_block] + KhoBlockHeaderSer.CountOffset), (ulong)set.PerBlock);
            }
            Current = set._blocks[_block] + KhoBlockHeaderSer.Size + (_slot++ * (ulong)set.EntrySize);
            return true;
        }

        /// <summary>Restarts the walk.</summary>
        public void Reset() => (_block, _slot, _count) = (-1, 0, 0);
        /// <summary>Nothing to release.</summary>
        public readonly void Dispose() { }
    }

    /// <summary>kho_block_set_restore(head_pa) (luo.md §2.6): cycle check (Floyd, ≤ 10000 steps of the fast
    /// pointer) → EINVAL with nothing freed; then adoption: count 0 or &gt; per_block → EINVAL, 10001st block →
    /// ENOSPC; a pass-2 failure restores-and-frees the adopted blocks and the rest of the chain.</summary>
    public Errno Restore(ulong headPa)
    {
        Incoming = true;
        _blocks.Clear();
        if (headPa == 0) return Errno.Ok;
        if (IsCyclicOrTooLong(headPa)) return Errno.EINVAL;
        Errno err = Errno.Ok;
        ulong p = headPa;
        while (p != 0)
        {
            if (!_kho.Arena.Contains(p, BlockSize)) { err = Errno.EINVAL; break; }
            ulong count = _kho.Arena.ReadU64(p + KhoBlockHeaderSer.CountOffset);
            if (count == 0 || count > (ulong)PerBlock) { err = Errno.EINVAL; break; }
            if (_blocks.Count >= MaxBlocks) { err = Errno.ENOSPC; break; }
            _blocks.Add(p);
            p = _kho.Arena.ReadU64(p + KhoBlockHeaderSer.NextOffset);
        }
        if (err == Errno.Ok) return Errno.Ok;
        while (p != 0 && _kho.Arena.Contains(p, BlockSize))
        {
            ulong next = _kho.Arena.ReadU64(p + KhoBlockHeaderSer.NextOffset);
            _kho.RestoreFree(p);
            p = next;
        }
        Destroy();
        return err;
    }

    private bool IsCyclicOrTooLong(ulong head)
    {
        ulong slow = head, fast = head;
        for (int step = 0; step < MaxBlocks; step++)
        {
            if (!TryNext(fast, out fast) || fast == 0) return false;
            if (!TryNext(fast, out fast) || fast == 0) return false;
            TryNext(slow, out slow);
            if (slow == fast) return true;
        }
        return true; // 20001 or more blocks
    }

    private bool TryNext(ulong p, out ulong next)
    {
        next = 0;
        if (!_kho.Arena.Contains(p, BlockSize)) return false;
        next = _kho.Arena.ReadU64(p + KhoBlockHeaderSer.NextOffset);
        return true;
    }
}
