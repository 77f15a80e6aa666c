using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>The v4 uAPI of /dev/liveupdate and of session fds (luo.md §7.3; seed 004 = v4 12/30 for the device
/// commands; the session commands' checks follow v4 14/30). Dispatch as §3.2 without the direction check.</summary>
public sealed partial class Luo
{
    private static readonly IoctlOp[] V4DeviceOps =
    [
        new(LiveupdateUapiV4.StateStructSize, LiveupdateUapiV4.StateStructSize, LiveupdateUapiV4.StateStructSize),
        new(LiveupdateUapiV4.StateStructSize, LiveupdateUapiV4.StateStructSize, LiveupdateUapiV4.StateStructSize),
        new(LiveupdateUapiV4.CreateStructSize, LiveupdateUapiV4.CreateStructSize, LiveupdateUapiV4.CreateStructSize),
        new(LiveupdateUapiV4.RetrieveStructSize, LiveupdateUapiV4.RetrieveStructSize, LiveupdateUapiV4.RetrieveStructSize),
    ];

    private static readonly IoctlOp[] V4SessionOps =
    [
        new(LiveupdateUapiV4.FdStructSize, LiveupdateUapiV4.FdStructSize, LiveupdateUapiV4.FdStructSize),
        new(LiveupdateUapiV4.FdStructSize, LiveupdateUapiV4.FdStructSize, LiveupdateUapiV4.FdStructSize),
        new(LiveupdateUapiV4.FdStructSize, LiveupdateUapiV4.FdStructSize, LiveupdateUapiV4.FdStructSize),
        new(LiveupdateUapiV4.SessionStateStructSize, LiveupdateUapiV4.SessionStateStructSize, LiveupdateUapiV4.SessionStateStructSize),
        new(LiveupdateUapiV4.StateStructSize, LiveupdateUapiV4.StateStructSize, LiveupdateUapiV4.StateStructSize),
    ];

    /// <summary>Global states in which files may be preserved / sessions created (v4: NORMAL or UPDATED).</summary>
    private bool V4Open => UapiState is LiveupdateState.Normal or LiveupdateState.Updated;

    /// <summary>luo_ioctl() of v4: nr ≥ 4 → EINVAL, then §3.2 steps 2, 3, 5, 6.</summary>
    private long V4DeviceIoctl(Process p, uint cmd, ulong arg)
    {
        uint nr = cmd & 0xFF;
        if (nr >= LiveupdateUapiV4.DeviceCommands) return Fail(Errno.EINVAL);
        Errno rc = CopyIn(p, cmd, nr, arg, V4DeviceOps[nr], Errno.Ok, out var u);
        if (rc != Errno.Ok) return Fail(rc);
        switch (nr)
        {
            case 0:
                BinaryPrimitives.WriteUInt32LittleEndian(u!.Buf.AsSpan(LiveupdateUapiV4.ValueOffset), LiveupdateUapiV4.Wire(UapiState));
                return Respond(p, u) ? 0 : Fail(Errno.EFAULT);
            case 1:
                if (IsFrozen) return Fail(Errno.Frozen);                                      // the state lock is held from the reboot freeze on
                return Fail(V4GlobalEvent(BinaryPrimitives.ReadUInt32LittleEndian(u!.Buf.AsSpan(LiveupdateUapiV4.ValueOffset))));
            case 2:
                return V4CreateSession(p, u!);
            default:
                if (UapiState != LiveupdateState.Updated) return Fail(Errno.EBUSY);
                return RetrieveSession(p, u!);
        }
    }

    /// <summary>luo_ioctl_set_event() (v4): PREPARE, FINISH, CANCEL; any other value → EOPNOTSUPP. No reply.</summary>
    private Errno V4GlobalEvent(uint ev) => ev switch
    {
        LiveupdateUapiV4.EventPrepare => UapiPrepare(),
        LiveupdateUapiV4.EventFinish => UapiFinish(),
        LiveupdateUapiV4.EventCancel => UapiCancel(),
        _ => Errno.EOPNOTSUPP,
    };

    /// <summary>LIVEUPDATE_IOCTL_CREATE_SESSION of v4: global state NORMAL/UPDATED (EBUSY), fd (EMFILE), name
    /// check within 56 bytes (name_check: empty or unterminated → EINVAL; off: cut to 55 bytes), one name space
    /// with the incoming sessions (EEXIST), then as §3.4 steps 4–9.</summary>
    private long V4CreateSession(Process p, Ucmd u)
    {
        if (!V4Open) return Fail(Errno.EBUSY);
        int fd = p.Reserve(0, true);
        if (fd < 0) return Fail(Errno.EMFILE);
        var name = u.Buf.AsSpan(LiveupdateUapi.NameOffset, LiveupdateUapiV4.NameLength);
        int len = name.IndexOf((byte)0);
        if (len < 0) len = LiveupdateUapiV4.NameLength;
        if (Options.NameCheck && (len == 0 || len >= LiveupdateUapiV4.NameLength)) { p.Unreserve(fd); return Fail(Errno.EINVAL); }
        var field = new byte[LiveupdateUapi.NameLength];
        name[..Math.Min(len, LiveupdateUapiV4.NameLength - 1)].CopyTo(field);
        if (Faults.Check(FaultPoint.SessionAlloc) is var a && a != Errno.Ok) { p.Unreserve(fd); return Fail(a); }
        if (IsFrozen) { p.Unreserve(fd); return Fail(Errno.Frozen); }
        foreach (var it in Incoming.List)
            if (LuoSession.NamesEqual(it.NameBytes, field)) { p.Unreserve(fd); return Fail(Errno.EEXIST); }
        var session = new LuoSession(field, SessionState.Out, NewFileBlocks());
        Errno rc = InsertOutgoing(session);
        if (rc != Errno.Ok) { p.Unreserve(fd); return Fail(rc); }
        rc = Faults.Check(FaultPoint.SessionFileAlloc);
        if (rc != Errno.Ok)
        {
            RemoveOutgoing(session);
            p.Unreserve(fd);
            return Fail(rc);
        }
        var file = new SessionFile(Kernel, session);
        session.File = file;
        BinaryPrimitives.WriteInt32LittleEndian(u.Buf.AsSpan(LiveupdateUapi.FdOffset), fd);
        if (!Respond(p, u))
        {
            file.Put();
            p.Unreserve(fd);
            return Fail(Errno.EFAULT);
        }
        p.Install(fd, file);
        return 0;
    }

    /// <summary>luo_session_ioctl() of v4: nr outside 0x40..0x44 → EINVAL, then §3.2 steps 2, 3, 5, 6 (no
    /// direction check), serialize_lock, execute.</summary>
    private long V4SessionIoctl(Process p, LuoSession s, uint cmd, ulong arg)
    {
        uint nr = cmd & 0xFF;
        if (nr < LiveupdateUapi.SessionCmdBase || nr >= LiveupdateUapi.SessionCmdBase + LiveupdateUapiV4.SessionCommands) return Fail(Errno.EINVAL);
        uint i = nr - LiveupdateUapi.SessionCmdBase;
        Errno rc = CopyIn(p, cmd, nr, arg, V4SessionOps[i], Errno.Ok, out var u);
        if (rc != Errno.Ok) return Fail(rc);
        if (IsFrozen) return Fail(Errno.Frozen);
        return i switch
        {
            0 => V4PreserveFd(p, s, u!),
            1 => V4UnpreserveFd(p, s, u!),
            2 => V4RestoreFd(p, s, u!),
            3 => V4SessionGetState(p, s, u!),
            _ => Fail(V4SessionEvent(s, BinaryPrimitives.ReadUInt32LittleEndian(u!.Buf.AsSpan(LiveupdateUapiV4.ValueOffset)))),
        };
    }

    /// <summary>LIVEUPDATE_SESSION_PRESERVE_FD (v4): global NORMAL/UPDATED and session NORMAL, else EBUSY; then
    /// §3.6 (reply fault keeps the preservation).</summary>
    private long V4PreserveFd(Process p, LuoSession s, Ucmd u)
    {
        if (!V4Open || SessionUapiState(s) != LiveupdateState.Normal) return Fail(Errno.EBUSY);
        return PreserveFdIoctl(p, s, u);
    }

    /// <summary>LIVEUPDATE_SESSION_UNPRESERVE_FD (v4): reserved ≠ 0 → EOPNOTSUPP; global NORMAL/UPDATED and
    /// session NORMAL, else EBUSY; unknown token → ENOENT; reply of 16 bytes (fault: EFAULT, file stays unpreserved).</summary>
    private long V4UnpreserveFd(Process p, LuoSession s, Ucmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Buf.AsSpan(LiveupdateUapiV4.ReservedOffset)) != 0) return Fail(Errno.EOPNOTSUPP);
        if (!V4Open || SessionUapiState(s) != LiveupdateState.Normal) return Fail(Errno.EBUSY);
        Errno rc = UnpreserveToken(s, BinaryPrimitives.ReadUInt64LittleEndian(u.Buf.AsSpan(LiveupdateUapi.TokenOffset)));
        if (rc != Errno.Ok) return Fail(rc);
        return Respond(p, u) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>LIVEUPDATE_SESSION_RESTORE_FD (v4): global UPDATED else EBUSY; fd (EMFILE); session UPDATED else
    /// EBUSY; then §3.7 (retrieve_sticky applies; reply fault releases the fd, the file stays retrieved).</summary>
    private long V4RestoreFd(Process p, LuoSession s, Ucmd u)
    {
        if (UapiState != LiveupdateState.Updated) return Fail(Errno.EBUSY);
        int fd = p.Reserve(0, true);
        if (fd < 0) return Fail(Errno.EMFILE);
        if (SessionUapiState(s) != LiveupdateState.Updated) { p.Unreserve(fd); return Fail(Errno.EBUSY); }
        return RetrieveIntoFd(p, s, u, fd);                                                          // LuoFileOps.cs
    }

    /// <summary>LIVEUPDATE_SESSION_GET_STATE (v4): reserved[3] ≠ 0 → EOPNOTSUPP; the session's state at offset 8
    /// (the incoming byte is not looked at); reply of 12 bytes.</summary>
    private long V4SessionGetState(Process p, LuoSession s, Ucmd u)
    {
        if (u.Buf.AsSpan(LiveupdateUapiV4.SessionReservedOffset, 3).ContainsAnyExcept((byte)0)) return Fail(Errno.EOPNOTSUPP);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Buf.AsSpan(LiveupdateUapiV4.SessionStateOffset), LiveupdateUapiV4.Wire(SessionUapiState(s)));
        return Respond(p, u) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>LIVEUPDATE_SESSION_SET_EVENT (v4): PREPARE (NORMAL → PREPARED, else EBUSY), FREEZE (PREPARED →
    /// FROZEN, else EBUSY), FINISH (UPDATED → §3.8 finish → NORMAL outgoing; other states: nothing), CANCEL
    /// (PREPARED/FROZEN → NORMAL, cancelling the whole prepared update when the global state is PREPARED; other
    /// states: nothing); any other value → EINVAL. Only the session's state word changes for PREPARE / FREEZE.</summary>
    private Errno V4SessionEvent(LuoSession s, uint ev)
    {
        var st = SessionUapiState(s);
        switch (ev)
        {
            case LiveupdateUapiV4.EventPrepare:
                if (st != LiveupdateState.Normal) return Errno.EBUSY;
                SetSessionUapiState(s, LiveupdateState.Prepared);
                return Errno.Ok;
            case LiveupdateUapiV4.EventFreeze:
                if (st != LiveupdateState.Prepared) return Errno.EBUSY;
                SetSessionUapiState(s, LiveupdateState.Frozen);
                return Errno.Ok;
            case LiveupdateUapiV4.EventFinish:
                return st == LiveupdateState.Updated ? FinishIncomingSession(s) : Errno.Ok;
            case LiveupdateUapiV4.EventCancel:
                if (st is not (LiveupdateState.Prepared or LiveupdateState.Frozen)) return Errno.Ok;
                if (UapiState is LiveupdateState.Prepared or LiveupdateState.Frozen) return UapiCancel();
                SetSessionUapiState(s, LiveupdateState.Normal);
                return Errno.Ok;
            default:
                return Errno.EINVAL;
        }
    }
}
