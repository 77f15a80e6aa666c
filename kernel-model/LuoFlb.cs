using LuoModel.Kho;

namespace LuoModel.Kernel;

public sealed partial class Luo
{
    private readonly List<LiveupdateFlb> _flbs = [];

    /// <summary>Registered FLBs in first-registration order (at most 63).</summary>
    public IReadOnlyList<LiveupdateFlb> Flbs => _flbs;

    /// <summary>liveupdate_register_flb(fh, flb) (luo.md §2.5): EOPNOTSUPP, EINVAL (missing op or handler not
    /// registered), EEXIST (already linked, or another FLB has the compatible), ENOSPC (63 distinct FLBs).</summary>
    public Errno RegisterFlb(LiveupdateFileHandler handler, LiveupdateFlb flb)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(flb);
        if (!Enabled) return Errno.EOPNOTSUPP;
        using var reg = RegisterLock.Hold();
        if (!flb.HasRequiredOps || !_handlers.Contains(handler)) return Errno.EINVAL;
        if (handler.LinkedFlbs.Contains(flb)) return Errno.EEXIST;
        if (!_flbs.Contains(flb))
        {
            if (_flbs.Any(f => f.Compatible == flb.Compatible)) return Errno.EEXIST;
            if (_flbs.Count >= LuoFlbHeaderSer.MaxEntries) return Errno.ENOSPC;
            _flbs.Add(flb);
        }
        handler.LinkedFlbs.Add(flb);
        flb.Users++;
        return Errno.Ok;
    }

    /// <summary>liveupdate_unregister_flb(): void; the FLB leaves the global list with its last link.</summary>
    public void UnregisterFlb(LiveupdateFileHandler handler, LiveupdateFlb flb)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(flb);
        using var reg = RegisterLock.Hold();
        if (!handler.LinkedFlbs.Remove(flb)) return; // kernel warns
        if (--flb.Users == 0) _flbs.Remove(flb);
    }

    /// <summary>Outgoing step 1: for each linked FLB in link order, 0→1 preserves; a failure undoes the
    /// earlier FLBs in reverse.</summary>
    private Errno FlbFilePreserve(LiveupdateFileHandler h)
    {
        var links = h.LinkedFlbs;
        for (int i = 0; i < links.Count; i++)
        {
            var flb = links[i];
            if (flb.OutgoingCount == 0)
            {
                Errno rc = flb.ModuleGoingAway ? Errno.ENODEV : Faults.Check(FaultPoint.FlbPreserve, flb.Compatible);
                if (rc == Errno.Ok)
                {
                    var a = new LiveupdateFlbOpArgs(flb);
                    rc = flb.Preserve(a);
                    if (rc == Errno.Ok) { flb.OutgoingData = a.Data; flb.OutgoingObj = a.Obj; }
                }
                if (rc != Errno.Ok)
                {
                    for (int j = i - 1; j >= 0; j--) FlbUnpreserveOne(links[j], Options.Mutants);
                    return rc;
                }
                flb.OutgoingCount = 1;
            }
            else flb.OutgoingCount++;
        }
        return Errno.Ok;
    }

    /// <summary>Outgoing step 2: reverse link order, unpreserve on reaching 0.</summary>
    private void FlbFileUnpreserve(LiveupdateFileHandler h)
    {
        for (int i = h.LinkedFlbs.Count - 1; i >= 0; i--) FlbUnpreserveOne(h.LinkedFlbs[i], Options.Mutants);
    }

    private static void FlbUnpreserveOne(LiveupdateFlb flb, LuoMutant mutants)
    {
        if (--flb.OutgoingCount != ((mutants & LuoMutant.FlbUnpreserveAtOne) != 0 ? 1 : 0)) return; // mutant: FlbUnpreserveAtOne
        flb.Unpreserve(new LiveupdateFlbOpArgs(flb) { Data = flb.OutgoingData, Obj = flb.OutgoingObj });
        flb.OutgoingData = 0;
        flb.OutgoingObj = null;
    }

    /// <summary>FINISH of one file: put_incoming for each linked FLB in reverse link order.</summary>
    private void FlbFileFinish(LiveupdateFileHandler h)
    {
        for (int i = h.LinkedFlbs.Count - 1; i >= 0; i--) FlbPutIncoming(h.LinkedFlbs[i]);
    }

    /// <summary>liveupdate_flb_get_outgoing(): current outgoing obj (null if none); EOPNOTSUPP when disabled.</summary>
    public Errno FlbGetOutgoing(LiveupdateFlb flb, out object? obj)
    {
        ArgumentNullException.ThrowIfNull(flb);
        obj = null;
        if (!Enabled) return Errno.EOPNOTSUPP;
        obj = flb.OutgoingObj;
        return Errno.Ok;
    }

    /// <summary>liveupdate_flb_get_incoming() (N: takes a reference that must be put; under
    /// <see cref="LuoOptions.FlbGetTakesRef"/> off, cab056f2: no reference taken).</summary>
    public Errno FlbGetIncoming(LiveupdateFlb flb, out object? obj)
    {
        ArgumentNullException.ThrowIfNull(flb);
        obj = null;
        if (!Enabled) return Errno.EOPNOTSUPP;
        using var mm = Kernel.Mm.Hold(); // the FLB's incoming.lock (modelled by the mm lock)
        if (flb.IncomingObj is null)
        {
            Errno rc = FlbRetrieve(flb);
            if (rc != Errno.Ok) return rc;
        }
        if (Options.FlbGetTakesRef) flb.IncomingCount++;                                   // flb_get_takes_ref (N)
        obj = flb.IncomingObj;
        return Errno.Ok;
    }

    private Errno FlbRetrieve(LiveupdateFlb flb)
    {
        if (flb.IncomingFinished) return Errno.ENODATA;
        if (flb.IncomingRetrieved) return Errno.Ok;
        if (IncomingFlbPa == 0) return Errno.ENODATA;
        var hdr = LuoFlbHeaderSer.ReadFrom(Kho.Arena.PageForRead(IncomingFlbPa >> PhysicalArena.PageShift));
        LuoFlbSer? found = null;
        for (ulong i = 0; i < hdr.Count && i < LuoFlbHeaderSer.MaxEntries; i++)
        {
            var e = ReadFlbEntry(IncomingFlbPa, (int)i);
            if (e.Name == flb.Compatible) { found = e; break; }
        }
        if (found is null) return Errno.ENOENT;
        if (flb.ModuleGoingAway) return Errno.ENODEV;
        var a = new LiveupdateFlbOpArgs(flb) { Data = found.Value.Data };
        Errno rc = flb.Retrieve(a);
        if (rc != Errno.Ok) return rc;
        flb.IncomingData = found.Value.Data;
        flb.IncomingObj = a.Obj;
        flb.IncomingRetrieved = true;
        flb.IncomingCount = (long)found.Value.Count;
        return Errno.Ok;
    }

    private LuoFlbSer ReadFlbEntry(ulong page, int i)
    {
        Span<byte> e = stackalloc byte[LuoFlbSer.Size];
        Kho.Arena.Read(page + LuoFlbHeaderSer.Size + ((ulong)i * LuoFlbSer.Size), e);
        return LuoFlbSer.ReadFrom(e);
    }

    /// <summary>liveupdate_flb_put_incoming(): count − 1; on 0 retrieve if needed, finish, mark finished. A
    /// count already at 0 underflows (refcount saturation warning) and finish never runs (§9 q2).</summary>
    public void FlbPutIncoming(LiveupdateFlb flb)
    {
        ArgumentNullException.ThrowIfNull(flb);
        using var mm = Kernel.Mm.Hold(); // the FLB's incoming.lock (modelled by the mm lock)
        if (flb.IncomingCount <= 0)
        {
            if (Options.FlbGetTakesRef) flb.IncomingUnderflows++;                           // refcount_t warns; cab056f2's plain u64 wraps silently
            flb.IncomingCount = -1;
            return;
        }
        if (--flb.IncomingCount != 0) return;
        if (!flb.IncomingRetrieved) FlbRetrieve(flb);
        flb.Finish(new LiveupdateFlbOpArgs(flb) { Data = flb.IncomingData, Obj = flb.IncomingObj });
        flb.IncomingData = 0;
        flb.IncomingObj = null;
        flb.IncomingFinished = true;
    }

    /// <summary>FLB serialization at reboot (§2.5 step 4): entries for FLBs with outgoing count &gt; 0 in
    /// global list order; header count = entries written; later slots untouched.</summary>
    internal void SerializeFlbs(ulong page)
    {
        int n = 0;
        Span<byte> e = stackalloc byte[LuoFlbSer.Size];
        foreach (var flb in _flbs)
        {
            if (flb.OutgoingCount <= 0) continue;
            new LuoFlbSer(flb.Compatible, flb.OutgoingData, (ulong)flb.OutgoingCount).WriteTo(e);
            Kho.Arena.Write(page + LuoFlbHeaderSer.Size + ((ulong)n * LuoFlbSer.Size), e);
            n++;
        }
        Span<byte> h = stackalloc byte[LuoFlbHeaderSer.Size];
        new LuoFlbHeaderSer(LuoFlbHeaderSer.FlbPageCount, (ulong)n).WriteTo(h);
        Kho.Arena.Write(page, h);
    }
}
