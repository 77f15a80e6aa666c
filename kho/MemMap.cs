namespace LuoModel.Kho;

/// <summary>Flags of the modelled struct page.</summary>
[Flags]
public enum PageFlags : byte
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>PG_reserved / memblock-reserved at boot.</summary>
    Reserved = 1,
    /// <summary>MEMBLOCK_RSRV_NOINIT: a KHO-preserved block reserved by the incoming walk (kho.md §1.7 step 3).</summary>
    NoInit = 2,
    /// <summary>Head of a compound page (folio of order &gt; 0).</summary>
    Head = 4,
}

/// <summary>
/// Per-kernel struct page metadata (kho.md §7 model notes): private u64, refcount, compound order, flags.
/// Sparse like the arena; a kernel instance owns one and it does not survive kexec.
/// </summary>
public sealed class MemMap
{
    private const int GroupBits = 9, GroupSize = 1 << GroupBits;
    private readonly Group?[] _groups;

    private sealed class Group
    {
        public readonly ulong[] Private = new ulong[GroupSize];
        public readonly int[] RefCount = new int[GroupSize];
        public readonly byte[] Order = new byte[GroupSize];
        public readonly PageFlags[] Flags = new PageFlags[GroupSize];
    }

    /// <summary>Creates an empty memmap for <paramref name="pageCount"/> pages.</summary>
    public MemMap(ulong pageCount)
    {
        PageCount = pageCount;
        _groups = new Group?[(int)((pageCount + GroupSize - 1) >> GroupBits)];
    }

    /// <summary>Number of struct pages (pfn_valid range).</summary>
    public ulong PageCount { get; }

    /// <summary>pfn_valid(): the pfn has a struct page.</summary>
    public bool IsValid(ulong pfn) => pfn < PageCount;

    private Group? Get(ulong pfn) => _groups[(int)(pfn >> GroupBits)];
    private Group GetOrCreate(ulong pfn) => _groups[(int)(pfn >> GroupBits)] ??= new Group();

    /// <summary>page->private.</summary>
    public ulong GetPrivate(ulong pfn) => Get(pfn)?.Private[pfn & (GroupSize - 1)] ?? 0;
    /// <summary>set_page_private().</summary>
    public void SetPrivate(ulong pfn, ulong value) => GetOrCreate(pfn).Private[pfn & (GroupSize - 1)] = value;
    /// <summary>page_ref_count().</summary>
    public int GetRefCount(ulong pfn) => Get(pfn)?.RefCount[pfn & (GroupSize - 1)] ?? 0;
    /// <summary>set_page_count().</summary>
    public void SetRefCount(ulong pfn, int value) => GetOrCreate(pfn).RefCount[pfn & (GroupSize - 1)] = value;
    /// <summary>folio_order() of a head page (0 for non-compound pages).</summary>
    public int GetOrder(ulong pfn) => Get(pfn)?.Order[pfn & (GroupSize - 1)] ?? 0;
    /// <summary>Sets the compound order of a head page.</summary>
    public void SetOrder(ulong pfn, int order) => GetOrCreate(pfn).Order[pfn & (GroupSize - 1)] = (byte)order;
    /// <summary>Page flags.</summary>
    public PageFlags GetFlags(ulong pfn) => Get(pfn)?.Flags[pfn & (GroupSize - 1)] ?? PageFlags.None;
    /// <summary>Sets page flags.</summary>
    public void SetFlags(ulong pfn, PageFlags flags) => GetOrCreate(pfn).Flags[pfn & (GroupSize - 1)] = flags;
}
