using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>
/// The global live-update state machine shared by the rfc and v4 uAPIs (luo.md §7.2, §7.3), built on the
/// mainline code paths: PREPARE is the §4.2 session serialization (handler freeze, all-or-nothing rollback),
/// CANCEL is the §4.4 rollback applied to a completed serialization, the reboot freeze takes the
/// serialize_lock for good, FINISH is the §3.8 per-session finish.
/// </summary>
public sealed partial class Luo
{
    private LiveupdateState? _uapiState;
    private readonly Dictionary<LuoSession, LiveupdateState> _v4SessionState = new(ReferenceEqualityComparer.Instance);
    private bool _uapiFinalized;

    /// <summary>Global state of the rfc / v4 uAPI (always <see cref="LiveupdateState.Normal"/> under the simplified
    /// uAPI). Boot value: UPDATED when the previous kernel handed over sessions (incoming sessions_pa ≠ 0 /
    /// FDT-era count ≠ 0), else NORMAL.</summary>
    public LiveupdateState UapiState
    {
        get => _uapiState ??= Options.Uapi != LuoUapi.Simplified && Incoming.Active ? LiveupdateState.Updated : LiveupdateState.Normal;
        private set => _uapiState = value;
    }

    /// <summary>v4 state of one session: outgoing sessions NORMAL / PREPARED / FROZEN, incoming ones UPDATED.</summary>
    public LiveupdateState SessionUapiState(LuoSession s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return s.State switch
        {
            SessionState.Out => _v4SessionState.GetValueOrDefault(s, LiveupdateState.Normal),
            SessionState.Destroyed => LiveupdateState.Normal,
            _ => LiveupdateState.Updated,
        };
    }

    private void SetSessionUapiState(LuoSession s, LiveupdateState st)
    {
        if (st == LiveupdateState.Normal) _v4SessionState.Remove(s);
        else _v4SessionState[s] = st;
    }

    /// <summary>luo_prepare(): NORMAL only (EINVAL otherwise). Serializes every outgoing session (§4.2; a
    /// failure is rolled back by §4.4 and leaves NORMAL), marks NORMAL sessions PREPARED, enters PREPARED, then
    /// with the FDT-era KHO (kho-v1) calls kho_finalize(); a finalize error is returned in PREPARED.</summary>
    internal Errno UapiPrepare()
    {
        if (UapiState != LiveupdateState.Normal) return Errno.EINVAL;
        SerializeAttempts++;
        Errno rc = SerializeSessions();
        if (rc != Errno.Ok) return rc;
        foreach (var s in Outgoing.List)
            if (SessionUapiState(s) == LiveupdateState.Normal) SetSessionUapiState(s, LiveupdateState.Prepared);
        UapiState = LiveupdateState.Prepared;
        if (Kho.Options.Variant == KhoVariant.KhoV1)
        {
            rc = Faults.Check(FaultPoint.KhoFinalize);
            if (rc == Errno.Ok) rc = Kho.Finalize();
            if (rc != Errno.Ok) return rc;
            _uapiFinalized = true;
        }
        return Errno.Ok;
    }

    /// <summary>luo_cancel(): PREPARED or FROZEN only (EINVAL otherwise). KHO abort, unfreeze every session's
    /// files forward in reverse session order with its handover entry cleared (the §4.4 rollback of a completed
    /// serialization), every outgoing session NORMAL, global NORMAL.</summary>
    internal Errno UapiCancel()
    {
        if (UapiState is not (LiveupdateState.Prepared or LiveupdateState.Frozen)) return Errno.EINVAL;
        if (_uapiFinalized)
        {
            Errno rc = Kho.Abort();
            if (rc != Errno.Ok) return rc;
            _uapiFinalized = false;
        }
        UnserializeSessions();
        _v4SessionState.Clear();
        UapiState = LiveupdateState.Normal;
        return Errno.Ok;
    }

    /// <summary>Undoes a completed SerializeSessions(): every session k-1 … 0 unfrozen (files forward), its
    /// file blocks cleared, its entry's file_set and name zeroed; sessions_pa (or the FDT-era count) := 0.</summary>
    private void UnserializeSessions()
    {
        var sh = Outgoing;
        bool v5 = sh.Blocks is not null;
        for (int i = sh.List.Count - 1; i >= 0; i--)
        {
            var s = sh.List[i];
            ulong entry = v5 ? sh.Blocks!.SlotAddress(i) : FdtSessionEntry(i);
            if (s.FileList.Count > 0)
            {
                UnfreezeFiles(s, s.FileList.Count);
                Kho.Arena.Fill(entry + LuoSessionSer.FileSetOffset, LuoSessionSer.FileSetSize, 0);
            }
            Kho.Arena.Fill(entry + LuoSessionSer.NameOffset, LuoSessionSer.NameLength, 0);
        }
        if (v5) Kho.Arena.WriteU64(OutRootPhys + LuoSerRoot.SessionsPaOffset, 0);
        else Kho.Arena.WriteU64(FdtSessionArea, 0);
    }

    /// <summary>luo_finish(): UPDATED only (EINVAL otherwise). Finishes every incoming session in order (§3.8):
    /// a never-retrieved one is freed, a retrieved one (its fd still open) becomes an empty NORMAL outgoing
    /// session. A refusing handler stops it with EBUSY (earlier sessions stay finished, state stays UPDATED).</summary>
    internal Errno UapiFinish()
    {
        if (UapiState != LiveupdateState.Updated) return Errno.EINVAL;
        foreach (var s in Incoming.List.ToList())
        {
            Errno rc = FinishIncomingSession(s);
            if (rc != Errno.Ok) return rc;
        }
        UapiState = LiveupdateState.Normal;
        return Errno.Ok;
    }

    /// <summary>One incoming session from UPDATED to NORMAL: §3.8 finish, then freed (no fd) or moved to the
    /// outgoing list (fd open; v4 had one session list, seed 003).</summary>
    private Errno FinishIncomingSession(LuoSession s)
    {
        Errno rc = FinishSession(s);
        if (rc != Errno.Ok) return rc;
        if (s.State != SessionState.InOpen || s.File is null)
        {
            Incoming.List.Remove(s);
            s.State = SessionState.Destroyed;
            return Errno.Ok;
        }
        s.FileBlocks = NewFileBlocks();
        rc = InsertOutgoing(s);
        if (rc != Errno.Ok) return rc;
        Incoming.List.Remove(s);
        s.State = SessionState.Out;
        return Errno.Ok;
    }

    /// <summary>The reboot hook of the rfc / v4 uAPIs (luo.md §4.1 "historical", §7.3): in PREPARED (rfc: also
    /// FROZEN) the freeze step runs (FLB serialization, serialize_lock held for good) → FROZEN; in every other
    /// state the reboot proceeds without LUO (nothing is serialized; the next kernel boots NORMAL).</summary>
    private Errno UapiReboot()
    {
        bool handover = UapiState == LiveupdateState.Prepared || (Options.Uapi == LuoUapi.Rfc && UapiState == LiveupdateState.Frozen);
        if (!handover) return Errno.Ok;
        SerializeFlbs(OutFlbPhys);
        foreach (var s in Outgoing.List)
            if (SessionUapiState(s) == LiveupdateState.Prepared) SetSessionUapiState(s, LiveupdateState.Frozen);
        UapiState = LiveupdateState.Frozen;
        IsFrozen = true;
        return Errno.Ok;
    }

    /// <summary>luo_unpreserve_file(): one file out of an outgoing session (handler unpreserve, FLB unpreserve,
    /// registry erase, remove, shrink, drop LUO's reference) — the per-file step of §3.10. ENOENT: no such token.</summary>
    internal Errno UnpreserveToken(LuoSession s, ulong token)
    {
        int i = s.FileList.FindIndex(f => f.Token == token);
        if (i < 0) return Errno.ENOENT;
        var f = s.FileList[i];
        f.Handler.Unpreserve(f.Args());
        FlbFileUnpreserve(f.Handler);
        RegistryErase(f);
        s.FileList.RemoveAt(i);
        s.FileBlocks?.Shrink(s.FileList.Count);
        f.File?.Put();
        return Errno.Ok;
    }

    /// <summary>Session release under rfc / v4: an outgoing session released while the update is PREPARED / FROZEN: the handover already
    /// describes it, so the whole prepared update is cancelled first (model decision, docs/variants.md);
    /// the session's v4 state word is dropped.</summary>
    private void UapiBeforeRelease(LuoSession s)
    {
        if (s.State == SessionState.Out && UapiState is LiveupdateState.Prepared or LiveupdateState.Frozen) UapiCancel();
        _v4SessionState.Remove(s);
    }
}
