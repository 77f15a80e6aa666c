using System.Buffers.Binary;
using System.Collections.Immutable;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Histories;

internal sealed partial class ModelStep
{
    private static int Ceil(long n, int per) => (int)((n + per - 1) / per);
    private static string TokenTag(ulong token) => $"token-{token:x}";

    // ---------------- FLB (luo.md §2.5) ----------------

    private Errno FlbPreserve()
    {
        if (_m.Flb is not { } f) return Errno.Ok;
        if (f.Out > 0) { _m = _m with { Flb = f with { Out = f.Out + 1 } }; return Errno.Ok; }
        Errno rc = Hit(FaultPoint.FlbPreserve);
        if (rc != Errno.Ok) return rc;
        _m = _m with { Flb = f with { Out = 1, Preserves = f.Preserves + 1 } };
        return Errno.Ok;
    }

    private void FlbUnpreserve()
    {
        if (_m.Flb is not { } f) return;
        _m = _m with { Flb = f.Out == 1 ? f with { Out = 0, Unpreserves = f.Unpreserves + 1 } : f with { Out = f.Out - 1 } };
    }

    private Errno FlbRetrieve(FlbModel f, out FlbModel after)
    {
        after = f;
        if (f.Finished) return Errno.ENODATA;
        if (f.Retrieved) return Errno.Ok;
        if (!f.Page) return Errno.ENODATA;
        if (f.Entry is not { } count) return Errno.ENOENT;
        after = f with { Retrieved = true, InCount = count, Retrieves = f.Retrieves + 1 };
        return Errno.Ok;
    }

    private long FlbGet()
    {
        if (_m.Flb is not { } f || !_m.Enabled) return E(Errno.EOPNOTSUPP);
        bool haveObj = f.Retrieved && !f.Finished;
        if (!haveObj)
        {
            Errno rc = FlbRetrieve(f, out f);
            if (rc != Errno.Ok) return E(rc);
        }
        _m = _m with { Flb = f with { InCount = f.InCount + 1 } };
        return 0;
    }

    private long FlbPut()
    {
        if (_m.Flb is null) return E(Errno.EOPNOTSUPP);
        PutIncoming();
        return 0;
    }

    private void PutIncoming()
    {
        if (_m.Flb is not { } f) return;
        if (f.InCount <= 0) { _m = _m with { Flb = f with { InCount = -1 } }; return; }
        f = f with { InCount = f.InCount - 1 };
        if (f.InCount == 0)
        {
            if (!f.Retrieved) FlbRetrieve(f, out f);
            f = f with { Finished = true, Finishes = f.Finishes + 1 };
        }
        _m = _m with { Flb = f };
    }

    // ---------------- PRESERVE_FD (luo.md §3.6) ----------------

    private long PreserveFd(UserBuf u, byte[] kbuf, int n, int oi)
    {
        var s = _m.Out[oi];
        int fd = BinaryPrimitives.ReadInt32LittleEndian(kbuf.AsSpan(4));
        ulong token = BinaryPrimitives.ReadUInt64LittleEndian(kbuf.AsSpan(8));
        if (s.Files.Any(f => f.Token == token)) return E(Errno.EEXIST);
        if (s.Files.Count + 1 > Ceil(s.Files.Count, FilesPerBlock) * FilesPerBlock)
        {
            Errno g = Hit(FaultPoint.FileBlockGrow);
            if (g == Errno.Ok) g = Hit(FaultPoint.KhoAllocPreserve);
            if (g != Errno.Ok) return E(g);
        }
        if (fd < 0 || !_m.Fds.TryGetValue(fd, out int id) || D(id).Kind == DKind.Path) return E(Errno.EBADF);
        var d = D(id);
        bool memfd = d.Kind == DKind.Memfd && !d.Hugetlb;
        bool test = d.Kind == DKind.Test && !d.RefusePreserve;
        if (!memfd && !test) return E(Errno.ENOENT);
        if (_m.Registry.Contains(id)) return E(Errno.EBUSY);
        Errno rc = Hit(FaultPoint.RegistryInsert);
        if (rc != Errno.Ok) return E(rc);
        if (test && (rc = FlbPreserve()) != Errno.Ok) return E(rc);
        rc = Hit(FaultPoint.FileRecordAlloc);
        if (rc == Errno.Ok) rc = test ? TestPreserve(d, token) : MemfdPreserve(id);
        if (rc != Errno.Ok)
        {
            if (test) FlbUnpreserve();
            return E(rc);
        }
        d = D(id);
        _m = _m with
        {
            Out = _m.Out.SetItem(oi, s with { Files = s.Files.Add(new OFile(token, id, memfd, test ? d.Payload : 0, d.Seals)) }),
            Registry = _m.Registry.Add(id),
        };
        if (!u.Reply(kbuf, n)) { _exception = true; return E(Errno.EFAULT); }
        return 0;
    }

    private Errno TestPreserve(Desc d, ulong token)
    {
        Errno rc = Hit(FaultPoint.TestPreserve);
        _calls.Add(new HCall(TestOp.Preserve, token, d.Tag, rc));
        return rc;
    }

    /// <summary>memfd_luo_preserve (luo.md §6.2): record, then every page pinned in ascending order (holes
    /// filled), then the folio array, then each folio preserved, then the array (mm/memfd_luo.c order); holes
    /// filled before a failure stay in the page cache.</summary>
    private Errno MemfdPreserve(int id)
    {
        var d = D(id);
        Errno rc = Hit(FaultPoint.MemfdPreserveAlloc);
        if (rc == Errno.Ok) rc = Hit(FaultPoint.KhoAllocPreserve);
        if (rc != Errno.Ok) return Errno.ENOMEM;
        int pages = Ceil(d.Size, Page);
        var set = d.PageSet;
        for (int i = 0; i < pages && rc == Errno.Ok; i++)
        {
            if (set.Contains(i)) continue;
            rc = Hit(FaultPoint.MemfdFolioAlloc);
            if (rc == Errno.Ok) set = set.Add(i);
        }
        if (rc == Errno.Ok && pages > 0) rc = Hit(FaultPoint.MemfdArrayAlloc);
        for (int i = 0; i < pages && rc == Errno.Ok; i++) rc = Hit(FaultPoint.MemfdFolioPreserve);
        if (rc == Errno.Ok && pages > 0) rc = Hit(FaultPoint.MemfdVmallocPreserve);
        SetDesc(id, d with { Pages = set, SizeFrozen = rc == Errno.Ok });
        return rc;
    }

    // ---------------- RETRIEVE_FD (luo.md §3.7) ----------------

    private long RetrieveFd(UserBuf u, byte[] kbuf, int n, int ii)
    {
        ulong token = BinaryPrimitives.ReadUInt64LittleEndian(kbuf.AsSpan(8));
        int fd = LowestFree();
        if (fd < 0) return E(Errno.EMFILE);
        var s = _m.In[ii];
        int fi = s.Files.FindIndex(f => f.Token == token);
        if (fi < 0) return E(Errno.ENOENT);
        var f = s.Files[fi];
        if (f.Status < 0) return f.Status;
        int desc = f.Desc;
        if (f.Status == 0)
        {
            Errno rc;
            if (f.Memfd)
            {
                rc = Hit(FaultPoint.RetrieveAlloc);
                if (rc == Errno.Ok)
                    for (int i = 0; i < Ceil(f.Image!.Size, Page); i++)
                        if (Hit(FaultPoint.MemfdFolioRestore) != Errno.Ok) { rc = Errno.EIO; break; }
            }
            else
            {
                rc = Hit(FaultPoint.TestRetrieve);
                _calls.Add(new HCall(TestOp.Retrieve, token, rc == Errno.Ok ? $"retrieved-{token:x}" : TokenTag(token), rc));
            }
            if (rc != Errno.Ok)
            {
                _exception = true; // sticky status (§8 inv. 5)
                _m = _m with { In = _m.In.SetItem(ii, s with { Files = s.Files.SetItem(fi, f with { Status = -(int)rc }) }) };
                return E(rc);
            }
            var img = f.Image;
            desc = NewDesc(f.Memfd
                ? new Desc(DKind.Memfd, Pos: img!.Pos, Size: img.Size, Seals: img.Seals, Content: img.Content,
                    Pages: Enumerable.Range(0, Ceil(img.Size, Page)).ToImmutableSortedSet())
                : new Desc(DKind.Test, Payload: f.Data, Tag: $"retrieved-{token:x}"));
            _m = _m with
            {
                In = _m.In.SetItem(ii, s with { Files = s.Files.SetItem(fi, f with { Status = 1, Desc = desc }) }),
                Registry = _m.Registry.Add(desc),
            };
        }
        BinaryPrimitives.WriteInt32LittleEndian(kbuf.AsSpan(4), fd);
        if (!u.Reply(kbuf, n)) { _exception = true; return E(Errno.EFAULT); }
        Install(fd, desc);
        return 0;
    }

    // ---------------- FINISH and release (luo.md §3.8, §3.10) ----------------

    private string InTag(IFile f) => f.Status == 1 ? D(f.Desc).Tag : TokenTag(f.Token);

    private Errno FinishSession(int ii)
    {
        var s = _m.In[ii];
        if (s.Files.Count == 0) return Errno.Ok;
        foreach (var f in s.Files)
        {
            if (f.Memfd) continue;
            bool ok = !(f.Status == 1 && D(f.Desc).RefuseFinish) && Hit(FaultPoint.TestCanFinish) == Errno.Ok;
            _calls.Add(new HCall(TestOp.CanFinish, f.Token, InTag(f), ok ? Errno.Ok : Errno.EBUSY));
            if (!ok) return Errno.EBUSY;
        }
        for (int i = s.Files.Count - 1; i >= 0; i--)
        {
            var f = s.Files[i];
            if (!f.Memfd)
            {
                _calls.Add(new HCall(TestOp.Finish, f.Token, InTag(f), Errno.Ok));
                PutIncoming();
            }
            if (f.Status == 1) _m = _m with { Registry = _m.Registry.Remove(f.Desc) };
        }
        _m = _m with { In = _m.In.SetItem(ii, s with { Files = [], FileBlocks = 0 }) };
        return Errno.Ok;
    }

    private void SessionRelease(int desc)
    {
        int oi = _m.Out.FindIndex(s => s.Desc == desc);
        if (oi >= 0)
        {
            var s = _m.Out[oi];
            for (int i = s.Files.Count - 1; i >= 0; i--)
            {
                var f = s.Files[i];
                if (f.Memfd) SetDesc(f.Desc, D(f.Desc) with { SizeFrozen = false });
                else
                {
                    _calls.Add(new HCall(TestOp.Unpreserve, f.Token, D(f.Desc).Tag, Errno.Ok));
                    FlbUnpreserve();
                }
                _m = _m with { Registry = _m.Registry.Remove(f.Desc) };
            }
            RemoveOut(desc);
            return;
        }
        int ii = _m.In.FindIndex(s => s.Desc == desc && s.State == IState.Open);
        if (ii < 0) return;
        if (FinishSession(ii) == Errno.Ok) _m = _m with { In = _m.In.RemoveAt(ii) };
        else _m = _m with { In = _m.In.SetItem(ii, _m.In[ii] with { State = IState.Leaked }) };
    }
}
