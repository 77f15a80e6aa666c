using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>uAPI constants of /dev/liveupdate (include/uapi/linux/liveupdate.h, luo.md §1, §3.3).</summary>
public static class LiveupdateUapi
{
    /// <summary>LIVEUPDATE_IOCTL_TYPE.</summary>
    public const uint IoctlType = 0xBA;
    /// <summary>LIVEUPDATE_IOCTL_CREATE_SESSION.</summary>
    public const uint CreateSession = 0xBA00;
    /// <summary>LIVEUPDATE_IOCTL_RETRIEVE_SESSION.</summary>
    public const uint RetrieveSession = 0xBA01;
    /// <summary>LIVEUPDATE_SESSION_PRESERVE_FD.</summary>
    public const uint PreserveFd = 0xBA40;
    /// <summary>LIVEUPDATE_SESSION_RETRIEVE_FD.</summary>
    public const uint RetrieveFd = 0xBA41;
    /// <summary>LIVEUPDATE_SESSION_FINISH.</summary>
    public const uint Finish = 0xBA42;
    /// <summary>LIVEUPDATE_SESSION_GET_NAME.</summary>
    public const uint GetName = 0xBA43;
    /// <summary>First session command number.</summary>
    public const uint SessionCmdBase = 0x40;
    /// <summary>sizeof(struct liveupdate_ioctl_create_session) and retrieve_session.</summary>
    public const int SessionStructSize = 72;
    /// <summary>sizeof(struct liveupdate_session_preserve_fd) and retrieve_fd.</summary>
    public const int FdStructSize = 16;
    /// <summary>sizeof(struct liveupdate_session_finish).</summary>
    public const int FinishStructSize = 8;
    /// <summary>sizeof(struct liveupdate_session_get_name).</summary>
    public const int GetNameStructSize = 72;
    /// <summary>Seed GET_NAME (luo.md §7.6): sizeof the struct without the reserved field.</summary>
    public const int SeedGetNameStructSize = 68;
    /// <summary>Seed GET_NAME: offset of the name (right after size).</summary>
    public const int SeedNameOffset = 4;
    /// <summary>Common offsets: size @0, fd @4 (reserved for finish/get_name), name @8, token @8.</summary>
    public const int SizeOffset = 0, FdOffset = 4, ReservedOffset = 4, NameOffset = 8, TokenOffset = 8;
    /// <summary>LIVEUPDATE_SESSION_NAME_LENGTH.</summary>
    public const int NameLength = 64;
}

public sealed partial class Luo
{
    /// <summary>One dispatch-table entry: min_size, ksize (copy-in size), R (reply struct size).</summary>
    private readonly record struct IoctlOp(int MinSize, int KSize, int ReplySize);

    private static readonly IoctlOp[] DeviceOps =
    [
        new(LiveupdateUapi.SessionStructSize, LiveupdateUapi.SessionStructSize, LiveupdateUapi.SessionStructSize),
        new(LiveupdateUapi.SessionStructSize, LiveupdateUapi.SessionStructSize, LiveupdateUapi.SessionStructSize),
    ];

    private IoctlOp SessionOp(uint nr) => (nr - LiveupdateUapi.SessionCmdBase) switch
    {
        0 or 1 => new(LiveupdateUapi.FdStructSize, LiveupdateUapi.FdStructSize, LiveupdateUapi.FdStructSize),
        2 => new(LiveupdateUapi.FinishStructSize, LiveupdateUapi.FinishStructSize, LiveupdateUapi.FinishStructSize),
        _ when Options.GetName == GetNameVariant.Seed => new(LiveupdateUapi.SeedGetNameStructSize, LiveupdateUapi.SeedGetNameStructSize, LiveupdateUapi.SeedGetNameStructSize),
        _ => new((int)Options.GetNameTableSize, (int)Options.GetNameTableSize, LiveupdateUapi.GetNameStructSize),
    };

    private static long Fail(Errno e) => -(long)e;

    /// <summary>A decoded ioctl call: kernel buffer, user size and address. One instance per LUO is refilled by
    /// every call (ioctls do not nest), so the syscall path allocates nothing for it.</summary>
    private sealed class Ucmd
    {
        public byte[] Buf { get; private set; } = [];
        public uint UserSize { get; private set; }
        public ulong Arg { get; private set; }
        public IoctlOp Op { get; private set; }

        /// <summary>Starts a call: Buf[0, max(ksize, R)) zeroed (later bytes are never read).</summary>
        public Ucmd Reset(uint userSize, ulong arg, IoctlOp op)
        {
            int n = Math.Max(op.KSize, op.ReplySize);
            if (Buf.Length < n) Buf = new byte[n];
            else Array.Clear(Buf, 0, n);
            (UserSize, Arg, Op) = (userSize, arg, op);
            return this;
        }

        /// <summary>Test-only (a mutant): answer this call as if it were another table entry.</summary>
        public Ucmd Retarget(IoctlOp op)
        {
            Op = op;
            return this;
        }
    }

    private readonly Ucmd _ucmd = new();

    /// <summary>§3.2 steps 2, 3, 5, 6 (step 1 and 4 are done by the callers in their order).</summary>
    /// <remarks><paramref name="direction"/> is the step-4 verdict, computed by the caller beforehand (it only
    /// reads state) and applied in its place in the order.</remarks>
    private Errno CopyIn(Process p, uint cmd, uint nr, ulong arg, IoctlOp op, Errno direction, out Ucmd? ucmd)
    {
        ucmd = null;
        Span<byte> sz = stackalloc byte[4];
        if (!p.Memory.TryRead(arg, sz)) return Errno.EFAULT;                               // step 2
        uint userSize = BinaryPrimitives.ReadUInt32LittleEndian(sz);
        if (cmd != ((LiveupdateUapi.IoctlType << 8) | nr)) return Errno.ENOTTY;            // step 3
        bool late = Mut(LuoMutant.DirectionCheckAfterCopy);                                 // mutant: DirectionCheckAfterCopy
        if (!late && direction != Errno.Ok) return direction;                              // step 4
        if (userSize < op.MinSize) return Errno.EINVAL;                                     // step 5
        if (userSize > op.KSize && !Mut(LuoMutant.TailCheckSkipped))                        // step 6: check_zeroed_user (mutant: TailCheckSkipped)
        {
            Errno z = CheckZeroedUser(p.Memory, arg + (ulong)op.KSize, userSize - (uint)op.KSize);
            if (z != Errno.Ok) return z;
        }
        var u = _ucmd.Reset(userSize, arg, op);
        if (!p.Memory.TryRead(arg, u.Buf.AsSpan(0, op.KSize))) return Errno.EFAULT;
        if (late && direction != Errno.Ok) return direction;
        ucmd = u;
        return Errno.Ok;
    }

    /// <summary>check_zeroed_user(): ascending scan; the first non-zero byte (E2BIG) or unreadable page
    /// (EFAULT) decides.</summary>
    private static Errno CheckZeroedUser(UserMemory mem, ulong addr, ulong length)
    {
        Span<byte> page = stackalloc byte[UserMemory.PageSize];
        while (length > 0)
        {
            int off = (int)(addr % UserMemory.PageSize);
            int n = (int)Math.Min((ulong)(UserMemory.PageSize - off), length);
            if (!mem.TryRead(addr, page[..n])) return Errno.EFAULT;
            if (page[..n].ContainsAnyExcept((byte)0)) return Errno.E2BIG;
            addr += (ulong)n;
            length -= (ulong)n;
        }
        return Errno.Ok;
    }

    /// <summary>luo_ucmd_respond(): copies min(user_size, R) bytes back.</summary>
    private static bool Respond(Process p, Ucmd u)
    {
        int n = (int)Math.Min(u.UserSize, (uint)u.Op.ReplySize);
        return p.Memory.TryWrite(u.Arg, u.Buf.AsSpan(0, n));
    }

    /// <summary>ioctl on the /dev/liveupdate fd (luo.md §3.2–§3.5).</summary>
    internal long DeviceIoctl(Process p, uint cmd, ulong arg)
    {
        if (Options.Uapi != LuoUapi.Simplified) return Options.Uapi == LuoUapi.V4 ? V4DeviceIoctl(p, cmd, arg) : RfcDeviceIoctl(p, cmd, arg); // LuoUapiV4.cs / LuoUapiRfc.cs
        uint nr = cmd & 0xFF;
        if (nr >= DeviceOps.Length) return Fail(Errno.EINVAL);                             // step 1
        Errno rc = CopyIn(p, cmd, nr, arg, DeviceOps[nr], Errno.Ok, out var u);
        if (rc != Errno.Ok) return Fail(rc);
        return nr == 0 ? CreateSession(p, u!) : RetrieveSession(p, u!);
    }

    /// <summary>ioctl on a session fd (luo.md §3.2, §3.6–§3.9).</summary>
    internal long SessionIoctl(Process p, SessionFile file, uint cmd, ulong arg)
    {
        if (Options.Uapi == LuoUapi.V4) return V4SessionIoctl(p, file.Session, cmd, arg);              // LuoUapiV4.cs (rfc has no session fds)
        uint nr = cmd & 0xFF;
        uint sessionCmds = Options.GetName == GetNameVariant.Absent ? 3u : 4u;            // get_name=absent: 3 entries
        if (nr < LiveupdateUapi.SessionCmdBase || nr >= LiveupdateUapi.SessionCmdBase + sessionCmds) return Fail(Errno.EINVAL); // step 1
        var s = file.Session;
        Errno direction = !Options.DirectionCheck ? Errno.Ok : (nr - LiveupdateUapi.SessionCmdBase) switch
        {
            0 => s.State == SessionState.Out ? Errno.Ok : Errno.EINVAL,
            1 or 2 => s.State == SessionState.InOpen ? Errno.Ok : Errno.EINVAL,
            _ => Errno.Ok,
        };
        Errno rc = CopyIn(p, cmd, nr, arg, SessionOp(nr), direction, out var u);
        if (rc != Errno.Ok) return Fail(rc);
        if (IsFrozen) return Fail(Errno.Frozen);                                             // step 7
        return (nr - LiveupdateUapi.SessionCmdBase) switch
        {
            0 => PreserveFdIoctl(p, s, u!),
            1 => RetrieveFdIoctl(p, s, u!),
            2 => FinishIoctl(p, s, u!),
            _ => GetNameIoctl(p, s, u!),
        };
    }

    /// <summary>LIVEUPDATE_IOCTL_CREATE_SESSION (luo.md §3.4).</summary>
    private long CreateSession(Process p, Ucmd u)
    {
        int fd = p.Reserve(0, true);                                                        // step 2
        if (fd < 0) return Fail(Errno.EMFILE);
        var name = u.Buf.AsSpan(LiveupdateUapi.NameOffset, LiveupdateUapi.NameLength);
        int len = name.IndexOf((byte)0);
        if (len < 0) len = LiveupdateUapi.NameLength;
        if (Options.NameCheck && (len == 0 || len > 63)) { p.Unreserve(fd); return Fail(Errno.EINVAL); } // step 3
        var field = new byte[LiveupdateUapi.NameLength];
        name[..Math.Min(len, 63)].CopyTo(field);
        if (Faults.Check(FaultPoint.SessionAlloc) is var a && a != Errno.Ok) { p.Unreserve(fd); return Fail(a); } // step 4
        if (IsFrozen) { p.Unreserve(fd); return Fail(Errno.Frozen); }                        // step 5
        var session = new LuoSession(field, SessionState.Out, NewFileBlocks());
        Errno rc = InsertOutgoing(session);                                                   // step 6
        if (rc != Errno.Ok) { p.Unreserve(fd); return Fail(rc); }
        rc = Faults.Check(FaultPoint.SessionFileAlloc);                                       // step 7
        if (rc != Errno.Ok)
        {
            RemoveOutgoing(session);
            p.Unreserve(fd);
            return Fail(rc);
        }
        var file = new SessionFile(Kernel, session);
        session.File = file;
        BinaryPrimitives.WriteInt32LittleEndian(u.Buf.AsSpan(LiveupdateUapi.FdOffset), fd);
        if (!Respond(p, u))                                                                  // step 8
        {
            if (!Mut(LuoMutant.CreateReplyFaultKeepsSession)) file.Put();                    // mutant: CreateReplyFaultKeepsSession
            p.Unreserve(fd);
            return Fail(Errno.EFAULT);
        }
        p.Install(fd, file);                                                                  // step 9
        return 0;
    }

    internal KhoBlockSet? NewFileBlocks() =>
        Options.Abi == LuoAbi.LuoV5 ? new KhoBlockSet(Kho, Faults, FaultPoint.FileBlockGrow, LuoFileSer.Size, Options.Mutants) : null;

    /// <summary>luo_session_insert() into outgoing: grow, then duplicate check (EEXIST keeps the growth).</summary>
    private Errno InsertOutgoing(LuoSession session)
    {
        var sh = Outgoing;
        if (sh.Blocks is null)
        {
            if (sh.Count == LuoOptions.FdtMaxSessions) return Errno.ENOMEM;
        }
        else if (!Mut(LuoMutant.EexistBeforeGrow) || !sh.List.Any(it => LuoSession.NamesEqual(it.NameBytes, session.NameBytes))) // mutant: EexistBeforeGrow
        {
            Errno g = sh.Blocks.Grow(sh.Count + 1);
            if (g != Errno.Ok) return g;
        }
        string key = OutgoingNameKey(session.NameBytes);
        if (_outgoingNames.Contains(key))                     // the kernel walks the list; same answer in O(1)
        {
            if (Options.TrimEmptySessionBlock) sh.Blocks?.Shrink(sh.Count);
            return Errno.EEXIST;
        }
        sh.List.Add(session);
        _outgoingNames.Add(key);
        return Errno.Ok;
    }

    /// <summary>Names of the outgoing sessions (bytes up to the NUL, as <see cref="LuoSession.NamesEqual"/>
    /// compares them): an index so the duplicate check stays O(1) with hundreds of thousands of sessions
    /// (issue 9 §4 runs the 10000-block limit with real counts).</summary>
    private readonly HashSet<string> _outgoingNames = new(StringComparer.Ordinal);

    private static string OutgoingNameKey(byte[] name)
    {
        int len = Array.IndexOf(name, (byte)0, 0, LiveupdateUapi.NameLength);
        return System.Text.Encoding.Latin1.GetString(name, 0, len < 0 ? LiveupdateUapi.NameLength : len);
    }

    private void RemoveOutgoing(LuoSession session)
    {
        if (Outgoing.List.Remove(session)) _outgoingNames.Remove(OutgoingNameKey(session.NameBytes));
        if (!Mut(LuoMutant.NoShrinkOnClose)) Outgoing.Blocks?.Shrink(Outgoing.Count); // mutant: NoShrinkOnClose
        session.State = SessionState.Destroyed;
    }

    private int _retrieveHint; // index after the last session RETRIEVE_SESSION found

    /// <summary>LIVEUPDATE_IOCTL_RETRIEVE_SESSION (luo.md §3.5).</summary>
    private long RetrieveSession(Process p, Ucmd u)
    {
        int fd = p.Reserve(0, true);
        if (fd < 0) return Fail(Errno.EMFILE);
        if (IsFrozen) { p.Unreserve(fd); return Fail(Errno.Frozen); }
        var name = u.Buf.AsSpan(LiveupdateUapi.NameOffset, LiveupdateUapi.NameLength);
        LuoSession? session = null;
        // Incoming names are unique (a duplicate fails deserialization, and then no open succeeds), so the
        // search may start after the previous hit: in-order retrieval of S sessions is O(S), not O(S²).
        var list = Incoming.List;
        int start = _retrieveHint < list.Count ? _retrieveHint : 0;
        for (int k = 0; k < list.Count; k++)
        {
            int i = start + k < list.Count ? start + k : start + k - list.Count;
            if (LuoSession.NamesEqual(list[i].NameBytes, name)) { session = list[i]; _retrieveHint = i + 1; break; }
        }
        if (session is null) { p.Unreserve(fd); return Fail(Errno.ENOENT); }
        if (session.Retrieved) { p.Unreserve(fd); return Fail(Errno.EINVAL); }
        Errno rc = Faults.Check(FaultPoint.SessionFileAlloc);
        if (rc != Errno.Ok) { p.Unreserve(fd); return Fail(rc); }
        var file = new SessionFile(Kernel, session);
        session.File = file;
        session.Retrieved = true;
        session.State = SessionState.InOpen;
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
}
