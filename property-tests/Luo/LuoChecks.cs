using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;
using LuoModel.Testkit.Histories;

namespace LuoModel.PropertyTests.Luo;

/// <summary>Comparisons of the real kernel model with the abstract model; each mismatch is named after the
/// luo.md §8 / kho.md §5 invariant it breaks.</summary>
internal static class LuoChecks
{
    private static DKind KindOf(OpenFile f) => f switch
    {
        DeviceFile => DKind.Device,
        SessionFile => DKind.Session,
        MemfdFile => DKind.Memfd,
        TestFile => DKind.Test,
        DevNullFile => DKind.Null,
        _ => DKind.Path,
    };

    /// <summary>Observable state: fd table and descriptions, sessions, files, registry, blocks, FLB, KHO keys.
    /// Returns (invariant, detail) of the first difference, or null.</summary>
    public static (string Name, string Detail)? State(TraceTarget t, Model m)
    {
        if (t.Panicked != (m.Phase == Phase.Panicked)) return ("I17_panic_outcome", $"panicked {t.Panicked}, model {m.Phase}");
        if (t.Panicked) return null;
        var k = t.Kernel;
        var luo = k.Luo;
        var p = t.Process;
        if ((k.State == KernelState.Rebooting) != (m.Phase == Phase.Frozen)) return ("I13_frozen_after_success", $"kernel {k.State}, model {m.Phase}");
        if (luo.Enabled != m.Enabled) return ("state_luo_enabled", $"enabled {luo.Enabled}, model {m.Enabled}");
        if (luo.LiveupdateNum != m.Num) return ("I15_liveupdate_num", $"liveupdate_num {luo.LiveupdateNum}, model {m.Num}");

        // fd table and the partition into open file descriptions
        var fds = p.OpenFds.ToList();
        if (!fds.SequenceEqual(m.Fds.Keys)) return ("state_fd_table", $"fds [{string.Join(',', fds)}], model [{string.Join(',', m.Fds.Keys)}]");
        var toReal = new Dictionary<int, OpenFile>();
        var toModel = new Dictionary<OpenFile, int>(ReferenceEqualityComparer.Instance);
        foreach (var (fd, id) in m.Fds)
        {
            var f = p.FileOf(fd)!;
            var d = m.Descs[id];
            if (KindOf(f) != d.Kind) return ("state_fd_table", $"fd {fd} is {f}, model {d.Kind}");
            if ((toReal.TryGetValue(id, out var r) && !ReferenceEquals(r, f)) || (toModel.TryGetValue(f, out int mid) && mid != id))
                return ("I8_retrieve_shares_description", $"fd {fd}: description sharing differs from the model");
            toReal[id] = f;
            toModel[f] = id;
            if (f is MemfdFile mf && Memfd(mf, d) is { } why) return ("I18_memfd_round_trip", $"fd {fd}: {why}");
        }

        // outgoing sessions
        var outs = luo.Outgoing.Sessions;
        if (outs.Count != m.Out.Count) return ("state_outgoing", $"{outs.Count} outgoing sessions, model {m.Out.Count}");
        for (int i = 0; i < outs.Count; i++)
        {
            var (s, ms) = (outs[i], m.Out[i]);
            if (!s.NameBytes.AsSpan().SequenceEqual(ms.Name)) return ("state_outgoing", $"session {i} is \"{s.Name}\", model \"{LuoStrings.FromField(ms.Name)}\"");
            if (s.Files.Count != ms.Files.Count) return ("state_outgoing", $"\"{s.Name}\" has {s.Files.Count} files, model {ms.Files.Count}");
            for (int j = 0; j < s.Files.Count; j++)
            {
                var (f, mf) = (s.Files[j], ms.Files[j]);
                if (f.Token != mf.Token || (f.Handler is MemfdHandler) != mf.Memfd) return ("state_outgoing", $"\"{s.Name}\" file {j}: token {f.Token:x} {f.Handler}, model {mf.Token:x}");
                if (!mf.Memfd && f.SerializedData != mf.Data) return ("I11_failed_serialize_restores_state", $"\"{s.Name}\" token {f.Token:x}: data 0x{f.SerializedData:x}, model 0x{mf.Data:x}");
                if (toReal.TryGetValue(mf.Desc, out var real) && !ReferenceEquals(real, f.File)) return ("state_outgoing", $"token {f.Token:x} holds another file than the model");
            }
        }
        if (luo.Outgoing.Blocks is { } sb && sb.BlockCount != m.SBlocks) return ("I9_block_counts", $"{sb.BlockCount} session blocks, model {m.SBlocks}");

        // incoming sessions
        var ins = luo.Incoming.Sessions;
        if (ins.Count != m.In.Count) return ("I15_round_trip", $"{ins.Count} incoming sessions, model {m.In.Count}");
        for (int i = 0; i < ins.Count; i++)
        {
            var (s, ms) = (ins[i], m.In[i]);
            var state = ms.State switch { IState.Pending => SessionState.InPending, IState.Open => SessionState.InOpen, _ => SessionState.InLeaked };
            if (!s.NameBytes.AsSpan().SequenceEqual(ms.Name) || s.State != state)
                return ("I15_round_trip", $"incoming {i}: \"{s.Name}\" {s.State}, model \"{LuoStrings.FromField(ms.Name)}\" {state}");
            if (s.Files.Count != ms.Files.Count) return ("I21_finish_releases_exactly", $"incoming \"{s.Name}\" has {s.Files.Count} files, model {ms.Files.Count}");
            if (s.FileBlocks is { } fb && fb.BlockCount != ms.FileBlocks) return ("I21_finish_releases_exactly", $"incoming \"{s.Name}\" has {fb.BlockCount} file blocks, model {ms.FileBlocks}");
            for (int j = 0; j < s.Files.Count; j++)
            {
                var (f, mf) = (s.Files[j], ms.Files[j]);
                if (f.Token != mf.Token || (f.Handler is MemfdHandler) != mf.Memfd || f.RetrieveStatus != mf.Status)
                    return ("I15_round_trip", $"incoming \"{s.Name}\" file {j}: token {f.Token:x} {f.Handler} status {f.RetrieveStatus}, model {mf.Token:x} status {mf.Status}");
                if (!mf.Memfd && mf.Status == 0 && f.SerializedData != mf.Data) return ("I15_round_trip", $"token {f.Token:x}: data 0x{f.SerializedData:x}, model 0x{mf.Data:x}");
            }
        }
        if (luo.RegisteredFiles.Count != m.Registry.Count) return ("I4_registry_matches_live_files", $"{luo.RegisteredFiles.Count} registry entries, model {m.Registry.Count}");
        if (m.Enabled && luo.DeviceInUse != m.InUse) return ("I1_single_device_open", $"in_use {luo.DeviceInUse}, model {m.InUse}");
        if (m.Enabled && m.Deserialized && (luo.SavedError != Errno.Ok) != m.Eio) return ("I17_corrupt_handover", $"saved error {luo.SavedError}, model EIO={m.Eio}");

        // FLB
        if ((t.Flb is null) != (m.Flb is null)) return ("I10_flb_counts", "test FLB registration differs");
        if (t.Flb is { } flb && m.Flb is { } mf2)
        {
            if (flb.OutgoingCount != mf2.Out || flb.PreserveCalls != mf2.Preserves || flb.UnpreserveCalls != mf2.Unpreserves)
                return ("I10_flb_counts", $"out {flb.OutgoingCount} preserve {flb.PreserveCalls} unpreserve {flb.UnpreserveCalls}, model {mf2.Out}/{mf2.Preserves}/{mf2.Unpreserves}");
            if (flb.IncomingCount != mf2.InCount || flb.IncomingRetrieved != mf2.Retrieved || flb.IncomingFinished != mf2.Finished
                || flb.FinishCalls != mf2.Finishes || flb.RetrieveCalls != mf2.Retrieves)
                return ("I23_flb_finish_once", $"in {flb.IncomingCount} retrieved {flb.IncomingRetrieved} finished {flb.IncomingFinished} finish {flb.FinishCalls} retrieve {flb.RetrieveCalls}, model {mf2}");
        }
        // KHO test region keys
        var keys = m.Keys.Select(x => ((t.KhoRegionPfn + (ulong)x.Index) << PhysicalArena.PageShift, x.Order)).ToHashSet();
        if (!t.UserKeys.SetEquals(keys)) return ("K4_keys_follow_set_model", $"{t.UserKeys.Count} region keys, model {keys.Count}");
        return null;
    }

    private static string? Memfd(MemfdFile f, Desc d)
    {
        var ino = f.Inode;
        if (ino.Size != d.Size || f.Position != d.Pos || ino.Seals != d.Seals || ino.SizeFrozen != d.SizeFrozen || ino.PageCount != d.PageSet.Count)
            return $"size {ino.Size} pos {f.Position} seals 0x{ino.Seals:x} frozen {ino.SizeFrozen} pages {ino.PageCount}, model {d.Size}/{d.Pos}/0x{d.Seals:x}/{d.SizeFrozen}/{d.PageSet.Count}";
        var bytes = new byte[ino.Size];
        ino.ReadBytes(0, bytes);
        if (!bytes.AsSpan().SequenceEqual(d.Bytes)) return "content differs";
        return null;
    }

    /// <summary>A snapshot for "nothing changed" comparisons: serialized_data masked (N keeps post-freeze data
    /// after a rollback, luo.md §4.4), plus the fd table.</summary>
    public static string Fingerprint(TraceTarget t)
    {
        var s = t.Kernel.Luo.Snapshot();
        static SessionSnapshot Mask(SessionSnapshot x) => x with { Files = new ValueList<FileSnapshot>(x.Files.Select(f => f with { SerializedData = 0 })) };
        s = s with { Outgoing = new ValueList<SessionSnapshot>(s.Outgoing.Select(Mask)), Incoming = new ValueList<SessionSnapshot>(s.Incoming.Select(Mask)) };
        string fds = string.Join(',', t.Process.OpenFds.Select(fd => $"{fd}:{t.Process.FileOf(fd)!.Id}"));
        return $"{s.GetHashCode()}|{string.Join(';', s.Outgoing)}|{string.Join(';', s.Incoming)}|{s.Registry}|{s.Flbs}|{s.SessionBlocks}|{s.SessionsPa}|{s.Preserved}|{s.DeviceInUse}|{s.Frozen}|{fds}";
    }
}
