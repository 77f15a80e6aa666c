using System.Buffers.Binary;
using System.Collections.Immutable;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Histories;

/// <summary>
/// One step of the abstract model: the spec's order of checks for every call, written as plainly as possible.
/// The model state stays immutable; a step replaces <see cref="_m"/> record by record and collects the
/// expected handler calls.
/// </summary>
internal sealed partial class ModelStep
{
    private const int SessionsPerBlock = 51, FilesPerBlock = 63, Page = 4096;
    private Model _m;
    private readonly List<HCall> _calls = [];
    private bool _exception;
    private byte[]? _data;

    private ModelStep(Model m) => _m = m;

    /// <summary>The model after <paramref name="op"/>; <see cref="Model.Last"/> holds what the op must return.</summary>
    public static Model Run(Model m, TraceOp op)
    {
        var s = new ModelStep(m);
        long v = s.Exec(op);
        return s._m with { Last = new Outcome(v, s._data, [.. s._calls], s._exception), SinceBoot = s._m.SinceBoot + 1 };
    }

    private static long E(Errno e) => -(long)e;

    // ---------------- faults ----------------

    /// <summary>FaultInjector.Check: counts one call of <paramref name="p"/>; the first armed rule reaching 0 wins.</summary>
    private Errno Hit(FaultPoint p)
    {
        Errno result = Errno.Ok;
        var next = ImmutableList.CreateBuilder<Armed>();
        foreach (var a in _m.Armed)
        {
            if (a.Point != p) { next.Add(a); continue; }
            if (a.Left == 1) { if (result == Errno.Ok) result = a.Error; continue; }
            next.Add(a with { Left = a.Left - 1 });
        }
        _m = _m with { Armed = next.ToImmutable() };
        return result;
    }

    // ---------------- descriptions and fds ----------------

    private int LowestFree()
    {
        int fd = 0;
        while (_m.Fds.ContainsKey(fd)) fd++;
        return (ulong)fd < _m.Soft ? fd : -1;
    }

    private int NewDesc(Desc d)
    {
        int id = _m.NextDesc;
        _m = _m with { Descs = _m.Descs.SetItem(id, d), NextDesc = id + 1 };
        return id;
    }

    private Desc D(int id) => _m.Descs[id];
    private void SetDesc(int id, Desc d) => _m = _m with { Descs = _m.Descs.SetItem(id, d) };
    private void Install(int fd, int desc) => _m = _m with { Fds = _m.Fds.SetItem(fd, desc) };
    private Desc? DescOf(int fd) => _m.Fds.TryGetValue(fd, out int id) ? D(id) : null;

    private long Exec(TraceOp op)
    {
        if (op is ColdBootOp)
        {
            _m = Model.ColdBoot(_m.Kexecs);
            return 0;
        }
        return op switch
        {
            OpenOp o => Open(o),
            CloseOp c => Close(c.Fd),
            DupOp d => Dup(d.Fd),
            IoctlOp io => Ioctl(io),
            MemfdCreateOp mc => MemfdCreate(mc),
            WriteOp w => Write(w),
            PreadOp r => Pread(r),
            FtruncateOp t => Ftruncate(t),
            AddSealsOp s => AddSeals(s),
            LseekOp l => Lseek(l),
            SetrlimitOp r => Setrlimit(r.Soft),
            RebootOp rb => Reboot(rb.Cmd),
            KexecOp => Kexec(),
            TestFileOp t => TestFile(t.Payload),
            TestFileFlagsOp f => TestFileFlags(f),
            FailNthOp f => Arm(f),
            KhoFolioOp k => KhoFolio(k),
            KhoRestoreOp k => KhoRestore(k.Index),
            FlbIncomingOp f => f.Put ? FlbPut() : FlbGet(),
            CorruptOp c => Corrupt(c.Kind),
            _ => throw new ArgumentException($"no model for {op}", nameof(op)),
        };
    }

    private long Open(OpenOp o)
    {
        int fd = LowestFree();
        if (fd < 0) return E(Errno.EMFILE);
        bool path = (o.Flags & OpenFlags.O_PATH) != 0;
        bool writable = (o.Flags & OpenFlags.O_ACCMODE) is OpenFlags.O_WRONLY or OpenFlags.O_RDWR;
        Desc d;
        switch (o.Path)
        {
            case Kernel.Kernel.LiveupdatePath when _m.Enabled:
                if (path) { d = new Desc(DKind.Path); break; }
                if (_m.InUse) return E(Errno.EBUSY);
                _m = _m with { InUse = true };
                if (!_m.Deserialized) Deserialize();
                if (_m.Eio) { _m = _m with { InUse = false }; return E(Errno.EIO); }
                d = new Desc(DKind.Device, writable);
                break;
            case "/dev/null":
                d = new Desc(path ? DKind.Path : DKind.Null, writable);
                break;
            default:
                return E(Errno.ENOENT);
        }
        Install(fd, NewDesc(d));
        return fd;
    }

    private long Close(int fd)
    {
        if (!_m.Fds.TryGetValue(fd, out int id)) return E(Errno.EBADF);
        _m = _m with { Fds = _m.Fds.Remove(fd) };
        if (_m.Fds.ContainsValue(id)) return 0;
        var d = D(id);
        if (d.Kind == DKind.Device) _m = _m with { InUse = false };
        if (d.Kind == DKind.Session)
        {
            if (_m.Phase == Phase.Frozen) return TraceResult.Frozen;
            SessionRelease(id);
        }
        return 0;
    }

    private long Dup(int fd)
    {
        if (!_m.Fds.TryGetValue(fd, out int id)) return E(Errno.EBADF);
        int nfd = LowestFree();
        if (nfd < 0) return E(Errno.EMFILE);
        Install(nfd, id);
        return nfd;
    }

    private long Setrlimit(ulong soft)
    {
        if (soft > Model.Hard) return E(Errno.EINVAL);
        _m = _m with { Soft = soft };
        return 0;
    }

    private long TestFile(ulong payload)
    {
        int fd = LowestFree();
        if (fd < 0) return E(Errno.EMFILE);
        Install(fd, NewDesc(new Desc(DKind.Test, Payload: payload, Tag: $"test-{payload:x}")));
        return fd;
    }

    private long TestFileFlags(TestFileFlagsOp f)
    {
        if (!_m.Fds.TryGetValue(f.Fd, out int id) || D(id).Kind != DKind.Test) return E(Errno.EBADF);
        SetDesc(id, D(id) with { FailFreeze = f.FailFreeze, RefusePreserve = f.RefusePreserve, RefuseFinish = f.RefuseFinish });
        return 0;
    }

    private long Arm(FailNthOp f)
    {
        if (f.Nth <= 0) return E(Errno.EINVAL);
        _m = _m with { Armed = _m.Armed.Add(new Armed(f.Point, f.Nth, f.Error)) };
        return 0;
    }

    // ---------------- memfd syscalls (Kernel.Memfd.cs semantics) ----------------

    private long MemfdCreate(MemfdCreateOp mc)
    {
        if ((mc.Flags & ~7u) != 0 || System.Text.Encoding.UTF8.GetByteCount(mc.Name) > MemfdConsts.MaxNameLength) return E(Errno.EINVAL);
        int fd = LowestFree();
        if (fd < 0) return E(Errno.EMFILE);
        uint seals = (mc.Flags & MemfdConsts.MFD_ALLOW_SEALING) != 0 ? 0 : Seals.F_SEAL_SEAL;
        Install(fd, NewDesc(new Desc(DKind.Memfd, Seals: seals, Hugetlb: (mc.Flags & MemfdConsts.MFD_HUGETLB) != 0)));
        return fd;
    }

    /// <summary>Common fd lookup of the file syscalls: closed or O_PATH → EBADF.</summary>
    private Desc? FileFd(int fd, out int id, out long err)
    {
        err = 0;
        if (!_m.Fds.TryGetValue(fd, out id) || D(id).Kind == DKind.Path) { err = E(Errno.EBADF); return null; }
        return D(id);
    }

    private long Write(WriteOp w)
    {
        if (FileFd(w.Fd, out int id, out long err) is not { } d) return err;
        if (!d.Writable) return E(Errno.EBADF);
        if (d.Kind == DKind.Null) return w.Data.Length;
        if (d.Kind != DKind.Memfd) return E(Errno.EINVAL);
        if (w.Data.Length == 0) return 0;
        if ((d.Seals & (Seals.F_SEAL_WRITE | Seals.F_SEAL_FUTURE_WRITE)) != 0) return E(Errno.EPERM);
        long end = d.Pos + w.Data.Length;
        if (end > d.Size && ((d.Seals & Seals.F_SEAL_GROW) != 0 || d.SizeFrozen)) return E(Errno.EPERM);
        var content = new byte[Math.Max(d.Size, end)];
        d.Bytes.CopyTo(content, 0);
        w.Data.CopyTo(content, d.Pos);
        var pages = d.PageSet;
        for (long p = d.Pos / Page; p <= (end - 1) / Page; p++) pages = pages.Add((int)p);
        SetDesc(id, d with { Content = content, Size = content.Length, Pos = end, Pages = pages });
        return w.Data.Length;
    }

    private long Pread(PreadOp r)
    {
        if (r.Offset < 0) return E(Errno.EINVAL);
        if (FileFd(r.Fd, out _, out long err) is not { } d) return err;
        if (d.Kind == DKind.Null) return 0;
        if (d.Kind != DKind.Memfd) return E(Errno.EINVAL);
        long avail = Math.Max(0, d.Size - r.Offset);
        int n = (int)Math.Min(avail, r.Count);
        if (n == 0) return 0;
        _data = d.Bytes.AsSpan((int)r.Offset, n).ToArray();
        return n;
    }

    private long Ftruncate(FtruncateOp t)
    {
        if (FileFd(t.Fd, out int id, out long err) is not { } d) return err;
        if (t.Length < 0 || d.Kind != DKind.Memfd || !d.Writable) return E(Errno.EINVAL);
        if (t.Length < d.Size && (d.Seals & Seals.F_SEAL_SHRINK) != 0) return E(Errno.EPERM);
        if (t.Length > d.Size && (d.Seals & Seals.F_SEAL_GROW) != 0) return E(Errno.EPERM);
        if (t.Length != d.Size && d.SizeFrozen) return E(Errno.EPERM);
        var content = new byte[t.Length];
        d.Bytes.AsSpan(0, (int)Math.Min(d.Size, t.Length)).CopyTo(content);
        int keep = (int)((t.Length + Page - 1) / Page);
        SetDesc(id, d with { Content = content, Size = t.Length, Pages = t.Length < d.Size ? d.PageSet.Where(p => p < keep).ToImmutableSortedSet() : d.PageSet });
        return 0;
    }

    private long AddSeals(AddSealsOp s)
    {
        if (!_m.Fds.TryGetValue(s.Fd, out int id)) return E(Errno.EBADF);
        var d = D(id);
        if (d.Kind != DKind.Memfd) return E(Errno.EINVAL);
        if (!d.Writable) return E(Errno.EPERM);
        if ((s.Seals & ~Seals.All) != 0) return E(Errno.EINVAL);
        if ((d.Seals & Seals.F_SEAL_SEAL) != 0) return E(Errno.EPERM);
        SetDesc(id, d with { Seals = d.Seals | s.Seals });
        return 0;
    }

    private long Lseek(LseekOp l)
    {
        if (FileFd(l.Fd, out int id, out long err) is not { } d) return err;
        if (d.Kind == DKind.Null) return 0;
        if (d.Kind != DKind.Memfd) return E(Errno.ESPIPE);
        long pos = l.Whence switch { 0 => l.Offset, 1 => d.Pos + l.Offset, 2 => d.Size + l.Offset, _ => -1 };
        if (pos < 0) return E(Errno.EINVAL);
        SetDesc(id, d with { Pos = pos });
        return pos;
    }

    // ---------------- KHO test region (kho.md §5 inv. 3, 10, 11, 13) ----------------

    private long KhoFolio(KhoFolioOp k)
    {
        if (k.Order is < 0 or > 4 || k.Index < 0 || k.Index + (1 << k.Order) > TraceTarget.KhoRegionPages || (k.Index & ((1 << k.Order) - 1)) != 0)
            return E(Errno.EINVAL);
        _m = _m with { Keys = k.Unpreserve ? _m.Keys.Remove((k.Index, k.Order)) : _m.Keys.Add((k.Index, k.Order)) };
        return 0;
    }

    private long KhoRestore(int index)
    {
        if (!_m.Heads.TryGetValue(index, out int order)) return E(Errno.ENOENT);
        _m = _m with { Heads = _m.Heads.Remove(index) };
        _data = [.. Enumerable.Range(index, 1 << order).Select(i => TraceTarget.Pattern(_m.Boot - 1, i))];
        return order;
    }
}
