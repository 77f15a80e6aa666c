using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace LuoModel.Kho;

/// <summary>
/// Sparse simulated physical memory: DRAM is <c>[0, DramBytes)</c> in 4 KiB pages, stored in a three-level
/// page directory keyed by pfn bits (top: pfn &gt;&gt; 18, middle: bits 9–17, leaf: bits 0–8) so only
/// touched pages cost memory (style.md §5). A page that was never written reads as the
/// <see cref="Background"/> byte: zero on a cold machine, <see cref="PoisonByte"/> after a kexec scrub.
/// Everything that crosses a kexec lives here; per-kernel state (struct page, allocator) does not.
/// </summary>
public sealed partial class PhysicalArena
{
    /// <summary>PAGE_SHIFT.</summary>
    public const int PageShift = 12;
    /// <summary>PAGE_SIZE.</summary>
    public const int PageSize = 1 << PageShift;
    /// <summary>Fill byte of scrubbed memory (the kernel's POISON_FREE value).</summary>
    public const byte PoisonByte = 0x6B;
    /// <summary>Largest modelled DRAM (64 TiB); keeps the top directory small and image loads bounded.</summary>
    public const ulong MaxDramBytes = 1UL << 46;

    private const int LeafBits = 9, MidBits = 9;
    private const int LeafMask = (1 << LeafBits) - 1, MidMask = (1 << MidBits) - 1;

    private static readonly byte[] ZeroPage = new byte[PageSize];
    private static readonly byte[] PoisonPage = CreateFilled(PoisonByte);

    private readonly byte[]?[]?[]?[] _top;
    private long _presentPages;

    /// <summary>Creates an all-zero arena of <paramref name="dramBytes"/> (page multiple, ≤ 64 TiB).</summary>
    public PhysicalArena(ulong dramBytes)
    {
        if (dramBytes == 0 || dramBytes % PageSize != 0 || dramBytes > MaxDramBytes)
            throw new ArgumentOutOfRangeException(nameof(dramBytes), $"0x{dramBytes:x}: must be a non-zero page multiple ≤ 64 TiB");
        DramBytes = dramBytes;
        _top = new byte[]?[]?[]?[(int)((PageCount + (1UL << (LeafBits + MidBits)) - 1) >> (LeafBits + MidBits))];
    }

    /// <summary>Size of DRAM in bytes.</summary>
    public ulong DramBytes { get; }

    /// <summary>Number of 4 KiB pages of DRAM.</summary>
    public ulong PageCount => DramBytes >> PageShift;

    /// <summary>Value of every byte of a page that has no stored contents.</summary>
    public byte Background { get; private set; }

    /// <summary>Number of pages with stored contents (the sparse cost).</summary>
    public long PresentPages => _presentPages;

    /// <summary>The three boot values of the most recent kexec (kho.md §1.6), or null.</summary>
    public KexecHandoff? Handoff { get; set; }

    /// <summary>True when <c>[phys, phys + size)</c> lies inside DRAM (overflow-safe; size 0 allowed).</summary>
    public bool Contains(ulong phys, ulong size) => phys <= DramBytes && size <= DramBytes - phys;

    /// <summary>Copies bytes at <paramref name="phys"/> into <paramref name="destination"/>; false (nothing read)
    /// when the range leaves DRAM. Splits at page boundaries.</summary>
    public bool TryRead(ulong phys, Span<byte> destination)
    {
        int first = (int)(phys & (PageSize - 1));
        if (destination.Length <= PageSize - first && phys < DramBytes)
        {
            PageForRead(phys >> PageShift).Slice(first, destination.Length).CopyTo(destination); // one page: the common case
            return true;
        }
        if (!Contains(phys, (ulong)destination.Length)) return false;
        while (!destination.IsEmpty)
        {
            int off = (int)(phys & (PageSize - 1));
            int n = Math.Min(PageSize - off, destination.Length);
            PageForRead(phys >> PageShift).Slice(off, n).CopyTo(destination);
            destination = destination[n..];
            phys += (ulong)n;
        }
        return true;
    }

    /// <summary>Writes bytes at <paramref name="phys"/>; false (nothing written) when the range leaves DRAM.</summary>
    public bool TryWrite(ulong phys, ReadOnlySpan<byte> source)
    {
        int first = (int)(phys & (PageSize - 1));
        if (source.Length <= PageSize - first && phys < DramBytes)
        {
            source.CopyTo(PageForWrite(phys >> PageShift).AsSpan(first)); // one page: the common case
            return true;
        }
        if (!Contains(phys, (ulong)source.Length)) return false;
        while (!source.IsEmpty)
        {
            int off = (int)(phys & (PageSize - 1));
            int n = Math.Min(PageSize - off, source.Length);
            source[..n].CopyTo(PageForWrite(phys >> PageShift).AsSpan(off, n));
            source = source[n..];
            phys += (ulong)n;
        }
        return true;
    }

    /// <summary>Reads bytes; throws for a range outside DRAM (a model bug, not hostile input).</summary>
    public void Read(ulong phys, Span<byte> destination)
    {
        if (!TryRead(phys, destination)) ThrowRange(phys, (ulong)destination.Length);
    }

    /// <summary>Writes bytes; throws for a range outside DRAM (a model bug).</summary>
    public void Write(ulong phys, ReadOnlySpan<byte> source)
    {
        if (!TryWrite(phys, source)) ThrowRange(phys, (ulong)source.Length);
    }

    /// <summary>Little-endian u64 at <paramref name="phys"/> (may straddle pages); throws outside DRAM.</summary>
    public ulong ReadU64(ulong phys)
    {
        int off = (int)(phys & (PageSize - 1));
        if (off <= PageSize - 8 && phys < DramBytes)
            return BinaryPrimitives.ReadUInt64LittleEndian(PageForRead(phys >> PageShift)[off..]);
        return ReadU64Slow(phys);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ulong ReadU64Slow(ulong phys) // straddles a page or leaves DRAM (throws)
    {
        Span<byte> b = stackalloc byte[8];
        Read(phys, b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    /// <summary>Little-endian u64 at <paramref name="phys"/>, false when outside DRAM.</summary>
    public bool TryReadU64(ulong phys, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = TryRead(phys, b);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }

    /// <summary>Writes a little-endian u64 (may straddle pages); throws outside DRAM.</summary>
    public void WriteU64(ulong phys, ulong value)
    {
        int off = (int)(phys & (PageSize - 1));
        if (off <= PageSize - 8 && phys < DramBytes)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(PageForWrite(phys >> PageShift).AsSpan(off), value);
            return;
        }
        WriteU64Slow(phys, value);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void WriteU64Slow(ulong phys, ulong value) // straddles a page or leaves DRAM (throws)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Write(phys, b);
    }

    /// <summary>Writable view of <c>[phys, phys + length)</c> inside one page (materialised on first use; stable
    /// until the page is dropped). For hot writers of fixed-size records that never straddle a page; throws when
    /// the range crosses a page boundary or leaves DRAM (a model bug).</summary>
    public Span<byte> PageSpanForWrite(ulong phys, int length)
    {
        int off = (int)(phys & (PageSize - 1));
        if ((uint)length > (uint)(PageSize - off) || phys >= DramBytes) ThrowRange(phys, (ulong)length);
        return PageForWrite(phys >> PageShift).AsSpan(off, length);
    }

    /// <summary>Fills <c>[phys, phys + size)</c> with <paramref name="value"/>; pages that end up equal to the
    /// background are dropped, so zeroing a fresh arena stays sparse.</summary>
    public void Fill(ulong phys, ulong size, byte value)
    {
        if (!Contains(phys, size)) ThrowRange(phys, size);
        ulong end = phys + size;
        while (phys < end)
        {
            ulong pfn = phys >> PageShift;
            int off = (int)(phys & (PageSize - 1));
            int n = (int)Math.Min((ulong)(PageSize - off), end - phys);
            if (n == PageSize && value == BackgroundAt(pfn)) DropPage(pfn);
            else PageForWrite(pfn).AsSpan(off, n).Fill(value);
            phys += (ulong)n;
        }
    }

    /// <summary>Read-only view of one page (the shared background page when nothing is stored).</summary>
    public ReadOnlySpan<byte> PageForRead(ulong pfn) => TryGetPage(pfn) ?? (BackgroundAt(pfn) == 0 ? ZeroPage : PoisonPage);

    /// <summary>The stored page array, or null when the page reads as background. Throws outside DRAM.</summary>
    internal byte[]? TryGetPage(ulong pfn)
    {
        if (pfn >= PageCount) ThrowRange(pfn << PageShift, PageSize);
        return _top[(int)(pfn >> (LeafBits + MidBits))]?[(int)(pfn >> LeafBits) & MidMask]?[(int)pfn & LeafMask];
    }

    /// <summary>The writable page array for <paramref name="pfn"/>, materialised from the background on first use.
    /// The array is stable until the page is dropped (scrub, fill with background).</summary>
    public byte[] PageForWrite(ulong pfn)
    {
        if (pfn >= PageCount) ThrowRange(pfn << PageShift, PageSize);
        // fast path: plain loads of a present page (no covariance-checked element refs)
        byte[]? present = _top[(int)(pfn >> (LeafBits + MidBits))]?[(int)(pfn >> LeafBits) & MidMask]?[(int)pfn & LeafMask];
        return present ?? MaterialisePage(pfn);
    }

    private byte[] MaterialisePage(ulong pfn)
    {
        ref byte[]?[]?[]? mid = ref _top[(int)(pfn >> (LeafBits + MidBits))];
        mid ??= new byte[]?[]?[1 << MidBits];
        ref byte[]?[]? leaf = ref mid[(int)(pfn >> LeafBits) & MidMask];
        leaf ??= new byte[]?[1 << LeafBits];
        ref byte[]? page = ref leaf[(int)pfn & LeafMask];
        if (page is null)
        {
            byte bg = BackgroundAt(pfn);
            page = bg == 0 ? new byte[PageSize] : CreateFilled(bg);
            _presentPages++;
        }
        return page;
    }

    private void DropPage(ulong pfn)
    {
        byte[]?[]? leaf = _top[(int)(pfn >> (LeafBits + MidBits))]?[(int)(pfn >> LeafBits) & MidMask];
        if (leaf is null) return;
        ref byte[]? page = ref leaf[(int)pfn & LeafMask];
        if (page is null) return;
        page = null;
        _presentPages--;
    }

    /// <summary>Pfns with stored contents, ascending.</summary>
    public IEnumerable<ulong> PresentPfns()
    {
        for (int t = 0; t < _top.Length; t++)
        {
            var mid = _top[t];
            if (mid is null) continue;
            for (int m = 0; m < mid.Length; m++)
            {
                var leaf = mid[m];
                if (leaf is null) continue;
                for (int l = 0; l < leaf.Length; l++)
                    if (leaf[l] is not null)
                        yield return ((ulong)t << (LeafBits + MidBits)) | ((ulong)m << LeafBits) | (uint)l;
            }
        }
    }

    /// <summary>
    /// Kexec scrub: every page outside <paramref name="keep"/> (sorted, disjoint half-open ranges) reads as
    /// <see cref="PoisonByte"/> afterwards, modelling memory the next kernel reuses (issue 4 §1). Untouched pages
    /// inside a kept range keep reading zero without being materialised (a kept 1 GiB block costs nothing).
    /// </summary>
    public void Scrub(IReadOnlyList<PhysRange> keep)
    {
        ArgumentNullException.ThrowIfNull(keep);
        for (int i = 1; i < keep.Count; i++)
            if (keep[i].Start < keep[i - 1].End) throw new ArgumentException("keep ranges must be sorted and disjoint", nameof(keep));
        var drop = new List<ulong>();
        foreach (ulong pfn in PresentPfns())
            if (!InRanges(keep, pfn << PageShift)) drop.Add(pfn);
        foreach (ulong pfn in drop) DropPage(pfn);
        _zeroRanges = Background == 0 ? [.. keep] : Intersect(_zeroRanges, keep);
        Background = PoisonByte;
    }

    /// <summary>Ranges whose untouched pages read zero although <see cref="Background"/> is poison.</summary>
    public IReadOnlyList<PhysRange> ZeroRanges => _zeroRanges;

    private List<PhysRange> _zeroRanges = [];

    private byte BackgroundAt(ulong pfn) =>
        Background == 0 || _zeroRanges.Count == 0 || !InRanges(_zeroRanges, pfn << PageShift) ? Background : (byte)0;

    private static List<PhysRange> Intersect(List<PhysRange> a, IReadOnlyList<PhysRange> b)
    {
        var r = new List<PhysRange>();
        int i = 0, j = 0;
        while (i < a.Count && j < b.Count)
        {
            ulong s = Math.Max(a[i].Start, b[j].Start), e = Math.Min(a[i].End, b[j].End);
            if (s < e) r.Add(new PhysRange(s, e));
            if (a[i].End < b[j].End) i++; else j++;
        }
        return r;
    }

    internal void RestoreState(byte background, List<PhysRange> zeroRanges)
    {
        Background = background;
        _zeroRanges = zeroRanges;
    }

    private static bool InRanges(IReadOnlyList<PhysRange> ranges, ulong phys)
    {
        int lo = 0, hi = ranges.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = ranges[mid];
            if (phys < r.Start) hi = mid - 1;
            else if (phys >= r.End) lo = mid + 1;
            else return true;
        }
        return false;
    }

    private static byte[] CreateFilled(byte value)
    {
        var a = new byte[PageSize];
        a.AsSpan().Fill(value);
        return a;
    }

    [DoesNotReturn]
    private static void ThrowRange(ulong phys, ulong size) =>
        throw new ArgumentOutOfRangeException(nameof(phys), $"physical range 0x{phys:x}+0x{size:x} is outside DRAM");
}

/// <summary>A half-open physical range <c>[Start, End)</c>.</summary>
public readonly record struct PhysRange(ulong Start, ulong End)
{
    /// <summary>Length in bytes.</summary>
    public ulong Size => End - Start;

    /// <summary>True when the ranges share a byte (half-open).</summary>
    public bool Overlaps(PhysRange other) => Start < other.End && other.Start < End;

    /// <inheritdoc/>
    public override string ToString() => $"[0x{Start:x}, 0x{End:x})";
}

/// <summary>The three values kexec hands to the next kernel (kho.md §1.6): FDT page address and the
/// scratch array's address and length.</summary>
public readonly record struct KexecHandoff(ulong FdtPhys, ulong FdtLen, ulong ScratchPhys, ulong ScratchLen);
