namespace LuoModel.Kho;

public sealed partial class Kho
{
    /// <summary>Alignment of the scratch-array kexec segment (64 KiB, §1.6).</summary>
    public const ulong SegmentAlignment = 64UL << 10;

    /// <summary>What this kernel received at boot (§1.7).</summary>
    public IncomingHandover Incoming { get; private set; } = IncomingHandover.Rejected(KhoBootReject.NoHandoff, "cold boot");

    /// <summary>
    /// Boots a kernel over <paramref name="arena"/> with the values kexec passed (§1.7): kho_populate checks, then
    /// in scratch-only mode the map walk reserving every preserved block and stamping its head page's private
    /// with KHOP magic and order; a rejected handover becomes a normal boot (see <see cref="Incoming"/>). Then
    /// kho_init for the next handover, re-emitting kexec-metadata.
    /// </summary>
    public static Kho Boot(PhysicalArena arena, KhoOptions? options, KexecHandoff? handoff)
    {
        var k = new Kho(arena, options ?? new KhoOptions());
        if (handoff is null)
        {
            k.ReserveScratchColdBoot();
        }
        else
        {
            var inc = HandoverReader.Read(arena, handoff.Value, k.Options);
            k.Incoming = inc;
            bool scratchAdopted = inc.IsKhoBoot || inc.Reject is KhoBootReject.WalkFailed or KhoBootReject.OrderTooLargeForM;
            if (scratchAdopted)
            {
                k.Pages.Reserve(handoff.Value.ScratchPhys, handoff.Value.ScratchLen);
                foreach (var s in inc.ScratchArray)
                {
                    var r = new PhysRange(s.Addr, s.Addr + s.Size);
                    k._scratch.Add(r);
                    k.Pages.AddScratch(r);
                }
                k.Pages.ScratchOnly = true;
                foreach (var (phys, order) in inc.Blocks) k.ReserveAndStamp(phys, order);
                k.Pages.ScratchOnly = false;
            }
            else k.ReserveScratchColdBoot();
        }
        k.KhoInit();
        return k;
    }

    /// <summary>kho_preserved_memory_reserve(): memblock_reserve of the block, noinit, head private =
    /// KHOP magic &lt;&lt; 32 | order (§1.7 step 3). Later keys overwrite a shared head (§3.1 overlaps).</summary>
    private void ReserveAndStamp(ulong phys, int order)
    {
        ulong size = (ulong)PhysicalArena.PageSize << order;
        Pages.Reserve(phys, size);
        ulong pfn = phys >> PhysicalArena.PageShift;
        if (!MemMap.IsValid(pfn)) return;
        MemMap.SetPrivate(pfn, ((ulong)PageMagic << 32) | (uint)order);
        MemMap.SetFlags(pfn, MemMap.GetFlags(pfn) | PageFlags.Reserved | PageFlags.NoInit);
    }

    /// <summary>
    /// kexec (kho_fill_kimage + the jump, §1.6): writes the scratch array as a 64 KiB-aligned segment placed
    /// top-down in the first scratch region that fits (-EADDRNOTAVAIL if none; this kernel then stays alive),
    /// scrubs every page that is neither preserved, nor map/FDT metadata, nor that segment, records the
    /// handoff in the arena and retires this instance. With KHO disabled, or kho-v1 not finalized, no handoff
    /// is passed and everything is scrubbed.
    /// </summary>
    public Errno Kexec(out KexecHandoff? handoff)
    {
        CheckAlive();
        handoff = null;
        var keep = new List<PhysRange>();
        if (IsEnabled && HasTracker && FdtPhys != 0 && (Options.Variant != KhoVariant.KhoV1 || Finalized))
        {
            ulong len = (ulong)_scratch.Count * KhoScratch.SizeOf;
            ulong seg = 0;
            foreach (var r in _scratch)
            {
                if (len == 0 || len > r.Size) continue;
                ulong start = (r.End - len) & ~(SegmentAlignment - 1);
                if (start >= r.Start) { seg = start; break; }
            }
            if (seg == 0 && len != 0) return Errno.EADDRNOTAVAIL;
            Span<byte> e = stackalloc byte[KhoScratch.SizeOf];
            for (int i = 0; i < _scratch.Count; i++)
            {
                new KhoScratch(_scratch[i].Start, _scratch[i].Size).WriteTo(e);
                Arena.Write(seg + (ulong)(i * KhoScratch.SizeOf), e);
            }
            if (Fault == KhoFault.LoseLastBlockAtKexec && PreservedBlocks() is { Count: > 0 } bl)
                TrackerDel(bl[^1].Phys >> PhysicalArena.PageShift, bl[^1].Order);
            handoff = new KexecHandoff(FdtPhys, PhysicalArena.PageSize, seg, len);
            CollectKeep(keep);
            keep.Add(new PhysRange(seg & ~(ulong)(PhysicalArena.PageSize - 1), (seg + len + PhysicalArena.PageSize - 1) & ~(ulong)(PhysicalArena.PageSize - 1)));
        }
        Arena.Scrub(Merge(keep, Arena.DramBytes));
        Arena.Handoff = handoff;
        _dead = true;
        return Errno.Ok;
    }

    /// <summary>Convenience for tests and tools: kexec, then boot the next kernel (with
    /// <paramref name="nextOptions"/> or this kernel's). Throws if the kexec load fails.</summary>
    public Kho Reboot(KhoOptions? nextOptions = null)
    {
        Errno rc = Kexec(out var h);
        if (rc != Errno.Ok) throw new InvalidOperationException($"kexec load failed: {rc}");
        return Boot(Arena, nextOptions ?? Options, h);
    }

    private void CollectKeep(List<PhysRange> keep)
    {
        if (_tree is not null)
        {
            var v = new KeepVisitor(keep);
            _tree.Walk(ref v);
        }
        else
            foreach (var (phys, order) in PreservedBlocks()) AddKeep(keep, phys, order);
        IEnumerable<ulong> meta = _tree is not null ? _tree.NodePages : _xa!.ChunkPages.Concat(_xa.BitmapPages);
        foreach (ulong p in meta) keep.Add(new PhysRange(p, p + PhysicalArena.PageSize));
    }

    /// <summary>Adds a preserved block to the keep list; a block that starts where the previous entry ends extends
    /// it (the walk yields ascending addresses per order, so 262144 order-0 pages become a handful of ranges and
    /// <see cref="Merge"/> sorts little). The union, hence the merged result, is unchanged.</summary>
    private static void AddKeep(List<PhysRange> keep, ulong phys, int order)
    {
        ulong size = (ulong)PhysicalArena.PageSize << order;
        ulong end = size > ulong.MaxValue - phys ? ulong.MaxValue : phys + size;
        if (keep.Count > 0 && keep[^1].End == phys) keep[^1] = keep[^1] with { End = end };
        else keep.Add(new PhysRange(phys, end));
    }

    private readonly struct KeepVisitor(List<PhysRange> keep) : IRadixVisitor
    {
        public int Node(ulong phys, int level) => 0;
        public int Key(ulong key)
        {
            if (RadixKey.TryDecode(key, out ulong phys, out int order)) AddKeep(keep, phys, order);
            return 0;
        }
    }

    /// <summary>Sorts, clips to DRAM and merges ranges.</summary>
    internal static List<PhysRange> Merge(List<PhysRange> ranges, ulong limit)
    {
        ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
        var r = new List<PhysRange>();
        foreach (var x in ranges)
        {
            ulong s = x.Start, e = Math.Min(x.End, limit);
            if (s >= e) continue;
            if (r.Count > 0 && s <= r[^1].End) { if (e > r[^1].End) r[^1] = r[^1] with { End = e }; }
            else r.Add(new PhysRange(s, e));
        }
        return r;
    }
}
