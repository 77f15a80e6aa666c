using System.Collections.Immutable;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Histories;

internal sealed partial class ModelStep
{
    // ---------------- reboot: serialization and rollback (luo.md §4) ----------------

    private long Reboot(uint cmd)
    {
        if (_m.Phase == Phase.Frozen) return TraceResult.Frozen;
        if (cmd != Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC) return E(Errno.EINVAL);
        if (!_m.Enabled)
        {
            _m = _m with { Phase = Phase.Frozen, Next = new Handover(false, 0, [], false, 0, -1) };
            return 0;
        }
        _m = _m with { Attempts = _m.Attempts + 1 };
        Errno err = Errno.Ok;
        int k = 0;
        for (; k < _m.Out.Count; k++)
        {
            err = Hit(FaultPoint.SessionReserveEntry);
            if (err != Errno.Ok) break;
            err = FreezeFiles(k);
            if (err != Errno.Ok) break;
        }
        if (err != Errno.Ok)
        {
            for (int i = k - 1; i >= 0; i--) Unfreeze(_m.Out[i], _m.Out[i].Files.Count);
            return E(err);
        }
        var sessions = _m.Out.Select(s => new HSess(s.Name, [.. s.Files.Select(f =>
            new HFile(f.Token, f.Memfd, f.Data, f.Memfd ? f.Desc : 0, f.Memfd ? D(f.Desc).Pos : 0, f.Seals))])).ToImmutableList();
        bool panic = _m.SBlocks > Ceil(_m.Out.Count, SessionsPerBlock); // empty trailing block after EEXIST (§8 inv. 16)
        _m = _m with { Phase = Phase.Frozen, Next = new Handover(true, _m.Num + 1, sessions, panic, _m.Flb?.Out ?? 0, -1) };
        return 0;
    }

    /// <summary>luo_file_freeze of session <paramref name="k"/>: reserve, freeze (test handler: the fault
    /// point, then the per-file failure; success XORs the data), forward unfreeze on failure.</summary>
    private Errno FreezeFiles(int k)
    {
        var s = _m.Out[k];
        for (int j = 0; j < s.Files.Count; j++)
        {
            var f = s.Files[j];
            Errno err = Hit(FaultPoint.FileReserveEntry);
            if (err == Errno.Ok && !f.Memfd)
            {
                var d = D(f.Desc);
                err = Hit(FaultPoint.TestFreeze);
                if (err == Errno.Ok) err = d.FailFreeze;
                _calls.Add(new HCall(TestOp.Freeze, f.Token, d.Tag, err));
                if (err == Errno.Ok) s = s with { Files = s.Files.SetItem(j, f with { Data = f.Data ^ TraceTarget.FreezeXor }) };
            }
            if (err != Errno.Ok)
            {
                _m = _m with { Out = _m.Out.SetItem(k, s) };
                Unfreeze(s, j);
                return err;
            }
        }
        _m = _m with { Out = _m.Out.SetItem(k, s) };
        return Errno.Ok;
    }

    private void Unfreeze(OSess s, int n)
    {
        for (int j = 0; j < n; j++)
            if (!s.Files[j].Memfd) _calls.Add(new HCall(TestOp.Unfreeze, s.Files[j].Token, D(s.Files[j].Desc).Tag, Errno.Ok));
    }

    private long Corrupt(CorruptKind kind)
    {
        if (_m.Phase != Phase.Frozen || _m.Next is not { Luo: true } h) return E(Errno.EINVAL);
        if (kind == CorruptKind.RootCompatible) { _m = _m with { Next = h with { Panic = true } }; return 0; }
        int i = h.Sessions.FindIndex(s => s.Files.Count > 0);
        if (i < 0) return E(Errno.ENOENT);
        if (h.BadCountSession < 0) _m = _m with { Next = h with { BadCountSession = i } };
        return 0;
    }

    // ---------------- kexec and the next boot (luo.md §5.7) ----------------

    private long Kexec()
    {
        var h = _m.Next!;
        var heads = new Dictionary<int, int>();
        foreach (var (idx, order) in _m.Keys) heads[idx] = heads.TryGetValue(idx, out int o) ? Math.Min(o, order) : order;
        var pending = ImmutableList<HSess>.Empty;
        if (h.Luo)
        {
            // memfd images: content as of now (the pages stay shared), pos as of freeze, seals as of preserve
            pending = [.. h.Sessions.Select((s, si) => s with
            {
                Files = [.. s.Files.Select(f => f.Memfd ? f with { Image = new MemfdImage(D(f.MemfdDesc).Bytes, D(f.MemfdDesc).Size, f.Pos, f.Seals) } : f),
                    .. si == h.BadCountSession ? new[] { new HFile(ulong.MaxValue, false, 0, -1, 0, 0) } : []],
            })];
        }
        _m = Model.ColdBoot(_m.Kexecs + 1) with
        {
            Boot = _m.Boot + 1,
            Armed = _m.Armed,
            Heads = heads.ToImmutableDictionary(),
            Num = h.Luo ? h.Num : 0,
        };
        if (h.Luo && h.Panic)
        {
            _m = _m with { Phase = Phase.Panicked, Enabled = false, Flb = null };
            return TraceResult.Panic;
        }
        Errno late = Hit(FaultPoint.LateInitAlloc);
        if (late == Errno.Ok) late = Hit(FaultPoint.KhoAllocPreserve);
        if (late == Errno.Ok) late = Hit(FaultPoint.KhoAllocPreserve);
        _m = late != Errno.Ok
            ? _m with { Enabled = false, Flb = null, Pending = pending }
            : _m with { Pending = pending, Flb = new FlbModel(Page: h.Luo, Entry: h.Luo && h.FlbCount > 0 ? h.FlbCount : null) };
        return 0;
    }

    /// <summary>First-open deserialization: sessions in order, files per session; the first error stops and
    /// is cached (EIO forever); earlier sessions stay, unreachable.</summary>
    private void Deserialize()
    {
        _m = _m with { Deserialized = true };
        var list = ImmutableList.CreateBuilder<ISess>();
        Errno err = Errno.Ok;
        foreach (var h in _m.Pending)
        {
            err = Hit(FaultPoint.DeserializeSessionAlloc);
            if (err != Errno.Ok) break;
            var files = ImmutableList.CreateBuilder<IFile>();
            foreach (var f in h.Files)
            {
                if (f.MemfdDesc < 0) { err = Errno.EINVAL; break; } // count mismatch (corrupt file_count)
                err = Hit(FaultPoint.DeserializeFileAlloc);
                if (err != Errno.Ok) break;
                files.Add(new IFile(f.Token, f.Memfd, 0, 0, f.Data, f.Memfd ? f.Image : null));
            }
            if (err != Errno.Ok) { list.Add(new ISess(h.Name, IState.Pending, 0, [], 0)); break; }
            list.Add(new ISess(h.Name, IState.Pending, 0, files.ToImmutable(), Ceil(files.Count, FilesPerBlock)));
        }
        _m = _m with { In = list.ToImmutable(), Pending = [], Eio = err != Errno.Ok };
    }
}
