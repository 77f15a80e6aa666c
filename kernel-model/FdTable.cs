using System.Collections;

namespace LuoModel.Kernel;

/// <summary>
/// The slots of one process's fd table (<c>struct fdtable</c>: an array indexed by fd number). Numbers below
/// 2^20 (the default fs.nr_open, so every fd a default kernel allows) live in a growable array, as in the kernel;
/// higher numbers, possible only with a raised <see cref="KernelConfig.NrOpen"/>, in a sorted side table. Enumeration is
/// in ascending fd order. Not thread-safe: <see cref="Process"/> guards it with its file_lock.
/// </summary>
internal sealed class FdTable : IEnumerable<KeyValuePair<int, FdEntry>>
{
    private const int DenseLimit = 1 << 20;

    private struct Slot // 16 bytes: the kernel's fd array is 8 bytes per fd plus the open and close-on-exec bitmaps
    {
        public OpenFile? File;
        public bool Used;
        public bool CloseOnExec;

        public readonly FdEntry Entry => new(File, CloseOnExec);
    }

    private Slot[] _dense = new Slot[64];
    private SortedDictionary<int, FdEntry>? _sparse;

    /// <summary>Slots in use (installed or reserved).</summary>
    public int Count { get; private set; }

    public bool TryGetValue(int fd, out FdEntry entry)
    {
        if ((uint)fd < (uint)_dense.Length && _dense[fd].Used) { entry = _dense[fd].Entry; return true; }
        if (fd >= DenseLimit && _sparse is not null) return _sparse.TryGetValue(fd, out entry);
        entry = default;
        return false;
    }

    public bool ContainsKey(int fd) => TryGetValue(fd, out _);

    public FdEntry this[int fd]
    {
        get => TryGetValue(fd, out var e) ? e : throw new KeyNotFoundException($"fd {fd} not in the table");
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(fd);
            if (fd >= DenseLimit)
            {
                _sparse ??= [];
                if (!_sparse.ContainsKey(fd)) Count++;
                _sparse[fd] = value;
                return;
            }
            if (fd >= _dense.Length) Array.Resize(ref _dense, Math.Min(DenseLimit, Math.Max(fd + 1, _dense.Length * 2)));
            ref Slot s = ref _dense[fd];
            if (!s.Used) Count++;
            s.Used = true;
            s.File = value.File;
            s.CloseOnExec = value.CloseOnExec;
        }
    }

    public bool Remove(int fd)
    {
        if ((uint)fd < (uint)_dense.Length && _dense[fd].Used)
        {
            _dense[fd] = default;
            Count--;
            return true;
        }
        if (fd >= DenseLimit && _sparse is not null && _sparse.Remove(fd)) { Count--; return true; }
        return false;
    }

    public IEnumerator<KeyValuePair<int, FdEntry>> GetEnumerator()
    {
        for (int fd = 0; fd < _dense.Length; fd++)
            if (_dense[fd].Used) yield return new(fd, _dense[fd].Entry);
        if (_sparse is null) yield break;
        foreach (var kv in _sparse) yield return kv;
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
