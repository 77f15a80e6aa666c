namespace LuoModel.Kernel;

/// <summary>
/// The page cache of one shmem inode (the inode's <c>i_mapping</c> xarray in the kernel): page index → pfn, with the
/// folio's dirty bit kept beside the pfn. Most memfds LUO moves are small, so the first page lives inline and a
/// dictionary appears only from the second page on; a retrieved one-page memfd therefore costs no collection
/// objects (bench/README.md, LUO round trip). A mutable struct held in a field of its inode: never copy it.
/// </summary>
internal struct ShmemPageMap
{
    private const ulong DirtyBit = 1UL << 63; // pfns are below 2^52
    private const ulong InlineBit = 1UL << 62; // set in _inline while the inline slot holds a page (0 = empty)
    private const ulong PfnMask = ~(DirtyBit | InlineBit);
    private ulong _inlineIndex, _inline; // the inline slot: pfn | dirty bit | InlineBit
    private readonly bool HasInline => _inline != 0;
    private Dictionary<ulong, ulong>? _more;

    /// <summary>Pages present.</summary>
    public int Count => (HasInline ? 1 : 0) + (_more?.Count ?? 0);

    /// <summary>The pfn at <paramref name="index"/>, if present.</summary>
    public bool TryGetPfn(ulong index, out ulong pfn)
    {
        if (TryGetRaw(index, out ulong v)) { pfn = v & PfnMask; return true; }
        pfn = 0;
        return false;
    }

    /// <summary>Whether the page at <paramref name="index"/> is present and dirty.</summary>
    public bool IsDirty(ulong index) => TryGetRaw(index, out ulong v) && (v & DirtyBit) != 0;

    /// <summary>Inserts or replaces the page at <paramref name="index"/> (clean unless <paramref name="dirty"/>).</summary>
    public void Set(ulong index, ulong pfn, bool dirty)
    {
        ulong v = pfn | (dirty ? DirtyBit : 0);
        if (HasInline && _inlineIndex == index) { _inline = v | InlineBit; return; }
        if (!HasInline && (_more is null || !_more.ContainsKey(index)))
        {
            (_inlineIndex, _inline) = (index, v | InlineBit);
            return;
        }
        (_more ??= [])[index] = v;
    }

    /// <summary>Sets the dirty bit of a present page.</summary>
    public void MarkDirty(ulong index)
    {
        if (HasInline && _inlineIndex == index) _inline |= DirtyBit;
        else if (_more is not null && _more.TryGetValue(index, out ulong v)) _more[index] = v | DirtyBit;
    }

    /// <summary>Removes the page at <paramref name="index"/>; returns its pfn.</summary>
    public bool Remove(ulong index, out ulong pfn)
    {
        if (HasInline && _inlineIndex == index)
        {
            pfn = _inline & PfnMask;
            _inline = 0;
            return true;
        }
        if (_more is not null && _more.Remove(index, out ulong v)) { pfn = v & PfnMask; return true; }
        pfn = 0;
        return false;
    }

    /// <summary>Drops every page (the caller frees them).</summary>
    public void Clear()
    {
        _inline = 0;
        _more?.Clear();
    }

    /// <summary>Every (index, pfn, dirty), in no particular order.</summary>
    public IEnumerable<(ulong Index, ulong Pfn, bool Dirty)> Entries()
    {
        if (HasInline) yield return (_inlineIndex, _inline & PfnMask, (_inline & DirtyBit) != 0);
        if (_more is null) yield break;
        foreach (var (k, v) in _more) yield return (k, v & PfnMask, (v & DirtyBit) != 0);
    }

    /// <summary>Every pfn (for eviction), in no particular order.</summary>
    public IEnumerable<ulong> Pfns()
    {
        if (HasInline) yield return _inline & PfnMask;
        if (_more is null) yield break;
        foreach (ulong v in _more.Values) yield return v & PfnMask;
    }

    private bool TryGetRaw(ulong index, out ulong v)
    {
        if (HasInline && _inlineIndex == index) { v = _inline; return true; }
        if (_more is not null) return _more.TryGetValue(index, out v);
        v = 0;
        return false;
    }
}
