using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>The RFC uAPI of /dev/liveupdate (luo.md §7.2): device-only commands with size/direction bits in the
/// number, fixed-size copies (no size-extensible structs), kernel-generated tokens, no sessions. The preserved
/// fds ride the mainline code paths in one hidden outgoing session (<see cref="LiveupdateUapiRfc.HiddenSessionName"/>).</summary>
public sealed partial class Luo
{
    private ulong _rfcNextToken = 1;
    private static readonly byte[] s_rfcName = LuoSession.NameField(LiveupdateUapiRfc.HiddenSessionName);

    /// <summary>luo_ioctl() of the RFC: a switch over the exact command value; anything else → ENOTTY.</summary>
    private long RfcDeviceIoctl(Process p, uint cmd, ulong arg)
    {
        switch (cmd)
        {
            case LiveupdateUapiRfc.FdPreserve: return RfcFdPreserve(p, arg);
            case LiveupdateUapiRfc.FdUnpreserve: return RfcFdUnpreserve(p, arg);
            case LiveupdateUapiRfc.FdRestore: return RfcFdRestore(p, arg);
            case LiveupdateUapiRfc.GetState:
                {
                    Span<byte> b = stackalloc byte[4];
                    BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapiRfc.Wire(UapiState));
                    return p.Memory.TryWrite(arg, b) ? 0 : Fail(Errno.EFAULT);
                }
            case LiveupdateUapiRfc.EventPrepare or LiveupdateUapiRfc.EventFreeze or LiveupdateUapiRfc.EventCancel or LiveupdateUapiRfc.EventFinish when IsFrozen:
                return Fail(Errno.Frozen);                                                     // the state lock is held from the reboot freeze on
            case LiveupdateUapiRfc.EventPrepare: return Fail(UapiPrepare());
            case LiveupdateUapiRfc.EventFreeze:
                if (UapiState != LiveupdateState.Prepared) return Fail(Errno.EINVAL);
                UapiState = LiveupdateState.Frozen;
                return 0;
            case LiveupdateUapiRfc.EventCancel: return Fail(UapiCancel());
            case LiveupdateUapiRfc.EventFinish: return Fail(UapiFinish());
            default: return Fail(Errno.ENOTTY);
        }
    }

    private LuoSession? RfcSession(LuoSessionHeader sh)
    {
        foreach (var s in sh.List)
            if (LuoSession.NamesEqual(s.NameBytes, s_rfcName)) return s;
        return null;
    }

    /// <summary>LIVEUPDATE_IOCTL_FD_PRESERVE: copy 16 bytes (EFAULT); flags ≠ 0 → EINVAL; global NORMAL/UPDATED
    /// else EBUSY; §3.6 with the next kernel-generated token (1, 2, … per boot); the token is written at offset 8
    /// and the 16 bytes copied back (fault: EFAULT, the file stays preserved).</summary>
    private long RfcFdPreserve(Process p, ulong arg)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapiRfc.FdStructSize];
        if (!p.Memory.TryRead(arg, b)) return Fail(Errno.EFAULT);
        if (BinaryPrimitives.ReadUInt32LittleEndian(b[LiveupdateUapiRfc.FlagsOffset..]) != 0) return Fail(Errno.EINVAL);
        if (UapiState is not (LiveupdateState.Normal or LiveupdateState.Updated)) return Fail(Errno.EBUSY);
        if (IsFrozen) return Fail(Errno.Frozen);
        var s = RfcSession(Outgoing);
        bool created = false;
        if (s is null)
        {
            s = new LuoSession((byte[])s_rfcName.Clone(), SessionState.Out, NewFileBlocks());
            Errno g = InsertOutgoing(s);
            if (g != Errno.Ok) return Fail(g);
            created = true;
        }
        ulong token = _rfcNextToken;
        Errno rc = PreserveFile(p, s, BinaryPrimitives.ReadInt32LittleEndian(b[LiveupdateUapiRfc.FdOffset..]), token);
        if (rc != Errno.Ok)
        {
            if (created) RemoveOutgoing(s);
            return Fail(rc);
        }
        _rfcNextToken++;
        BinaryPrimitives.WriteUInt64LittleEndian(b[LiveupdateUapiRfc.TokenOffset..], token);
        return p.Memory.TryWrite(arg, b) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>LIVEUPDATE_IOCTL_FD_UNPRESERVE: read the u64 token (EFAULT); NORMAL only else EBUSY; unknown
    /// token → ENOENT; the per-file unpreserve of §3.10.</summary>
    private long RfcFdUnpreserve(Process p, ulong arg)
    {
        Span<byte> b = stackalloc byte[8];
        if (!p.Memory.TryRead(arg, b)) return Fail(Errno.EFAULT);
        if (UapiState != LiveupdateState.Normal) return Fail(Errno.EBUSY);
        if (IsFrozen) return Fail(Errno.Frozen);
        var s = RfcSession(Outgoing);
        if (s is null) return Fail(Errno.ENOENT);
        return Fail(UnpreserveToken(s, BinaryPrimitives.ReadUInt64LittleEndian(b)));
    }

    /// <summary>LIVEUPDATE_IOCTL_FD_RESTORE: copy 16 bytes (EFAULT); flags ≠ 0 → EINVAL; UPDATED only else
    /// EBUSY; fd (EMFILE); §3.7 on the incoming hidden session (none or unknown token → ENOENT); fd at offset 0,
    /// 16 bytes copied back (fault: the fd is released, the file stays retrieved).</summary>
    private long RfcFdRestore(Process p, ulong arg)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapiRfc.FdStructSize];
        if (!p.Memory.TryRead(arg, b)) return Fail(Errno.EFAULT);
        if (BinaryPrimitives.ReadUInt32LittleEndian(b[LiveupdateUapiRfc.FlagsOffset..]) != 0) return Fail(Errno.EINVAL);
        if (UapiState != LiveupdateState.Updated) return Fail(Errno.EBUSY);
        if (IsFrozen) return Fail(Errno.Frozen);
        int fd = p.Reserve(0, true);
        if (fd < 0) return Fail(Errno.EMFILE);
        var s = RfcSession(Incoming);
        OpenFile? file = null;
        Errno rc = s is null ? Errno.ENOENT : RetrieveFile(s, BinaryPrimitives.ReadUInt64LittleEndian(b[LiveupdateUapiRfc.TokenOffset..]), out file);
        if (rc != Errno.Ok) { p.Unreserve(fd); return Fail(rc); }
        file!.Get();
        BinaryPrimitives.WriteInt32LittleEndian(b[LiveupdateUapiRfc.FdOffset..], fd);
        if (!p.Memory.TryWrite(arg, b))
        {
            p.Unreserve(fd);
            file.Put();
            return Fail(Errno.EFAULT);
        }
        p.Install(fd, file);
        return 0;
    }
}
