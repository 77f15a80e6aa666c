using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Serve;

public sealed partial class LuoDaemon
{
    /// <summary>f_type of an anon-inode file (mainline session fds, and the eventfd placeholders).</summary>
    public const int AnonInodeMagic = 0x09041934;
    /// <summary>f_type of the proposed session pseudo-filesystem (luo.md §7.7).</summary>
    public const int LuoSessionMagic = 0x4c554f53;

    private const int ForkEntrySize = 12;

    private readonly Dictionary<ulong, PendingFork> _pendingForks = [];
    private ulong _nextToken = 1;

    private sealed record PendingFork(Process Child, Connection ParentConnection, Dictionary<ulong, Stack<int>> Fds, int Generation);

    private void Dispatch(Connection c, ReadOnlySpan<byte> message, ref int fd)
    {
        var pe = RequestHeader.TryRead(message, out var h, out uint seq);
        if (pe != RequestHeader.ParseError.None)
        {
            Log($"{c}: malformed request ({pe}, {message.Length} bytes)");
            Reply(c, seq, -1, WireErrno.EPROTO);
            return;
        }
        if (c.Rejected)
        {
            Reply(c, seq, -1, WireErrno.EACCES);
            return;
        }
        var payload = message[RequestHeader.Size..];
        if (c.Control)
        {
            HandleControl(c, h, payload);
            return;
        }
        if (c.Generation != _generation || _kernel.State != KernelState.Running)
        {
            if (_options.Verbose) Log($"{c}: {h.Op} refused: boot over (ESHUTDOWN)");
            Reply(c, seq, -1, WireErrno.ESHUTDOWN);
            return;
        }
        DrainHangups(c);
        if (!_conns.ContainsKey(c.Fd)) return;
        if (fd >= 0 && h.Op != ShimOp.Ioctl)
        {
            Log($"{c}: {h.Op} carried a descriptor");
            Reply(c, seq, -1, WireErrno.EPROTO);
            return;
        }
        try
        {
            switch (h.Op)
            {
                case ShimOp.Hello: Hello(c, h, payload); break;
                case ShimOp.Open: OpenRequest(c, h, payload); break;
                case ShimOp.Ioctl: IoctlRequestHandler(c, h, payload, ref fd); break;
                case ShimOp.Release: ReleaseRequest(c, h); break;
                case ShimOp.Dup: DupRequest(c, h); break;
                case ShimOp.ForkPrepare: ForkPrepare(c, h, payload); break;
                case ShimOp.ForkCancel: ForkCancel(c, h); break;
                case ShimOp.Fstatfs: FstatfsRequest(c, h); break;
                default:
                    Log($"{c}: unknown operation {(ushort)h.Op}");
                    Reply(c, seq, -1, WireErrno.EOPNOTSUPP);
                    break;
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or InsufficientMemoryException or IndexOutOfRangeException or KeyNotFoundException)
        {
            Log($"{c}: {h.Op} failed inside the model: {ex.GetType().Name}: {ex.Message}");
            if (_conns.ContainsKey(c.Fd)) Reply(c, seq, -1, WireErrno.EIO);
        }
    }

    private Process ProcessOf(Connection c)
    {
        if (c.Process is { } p) return p;
        p = _kernel.CreateProcess();
        _kernel.SetrlimitNofile(p, ModelFdLimit, ModelFdLimit);
        c.Process = p;
        return p;
    }

    /// <summary>The model process's fd limit: the real process enforces its own RLIMIT_NOFILE through its
    /// placeholders, so the model only follows the shim's fd_slot report (selftest-shim.md §5.1 item 6).</summary>
    private const ulong ModelFdLimit = 1UL << 20;

    private static int Fail(long rc) => rc == -(long)Errno.Frozen ? WireErrno.ESHUTDOWN : (int)-rc;

    private void Hello(Connection c, in RequestHeader h, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 12 || c.Greeted || c.Process is not null)
        {
            Reply(c, h.Seq, -1, WireErrno.EPROTO);
            return;
        }
        c.Greeted = true;
        ulong token = BinaryPrimitives.ReadUInt64LittleEndian(payload);
        if (token == 0)
        {
            Reply(c, h.Seq, 0, 0);
            return;
        }
        if (!_pendingForks.Remove(token, out var pf) || pf.Generation != _generation)
        {
            Log($"{c}: HELLO with unknown fork token {token}");
            Reply(c, h.Seq, -1, (int)Errno.ENOENT);
            return;
        }
        c.Process = pf.Child;
        int n = 0;
        foreach (var (handle, fds) in pf.Fds)
            foreach (int fd in fds.Reverse()) { c.AddFd(handle, fd); n++; }
        if (_options.Verbose || n > 0) Log($"{c}: forked from {pf.ParentConnection}, took over {n} fd(s)");
        Reply(c, h.Seq, 0, 0);
    }

    private void OpenRequest(Connection c, in RequestHeader h, ReadOnlySpan<byte> payload)
    {
        string path = Encoding.UTF8.GetString(payload.IndexOf((byte)0) is var z and >= 0 ? payload[..z] : payload);
        var p = ProcessOf(c);
        long rc = _kernel.Open(p, path, (int)h.Cmd);
        if (rc < 0)
        {
            if (_options.Verbose) Log($"{c}: open {path} = -{(Errno)(-rc)}");
            Reply(c, h.Seq, -1, Fail(rc));
            return;
        }
        ulong handle = p.FileOf((int)rc)!.Id;
        c.AddFd(handle, (int)rc);
        if (_options.Verbose) Log($"{c}: open {path} → handle {handle}");
        Reply(c, h.Seq, 0, 0, handle);
    }

    private void ReleaseRequest(Connection c, in RequestHeader h)
    {
        if (c.Process is not { } p || !c.TryTakeFd(h.Handle, out int fd))
        {
            Reply(c, h.Seq, -1, WireErrno.EBADF);
            return;
        }
        long rc = _kernel.Close(p, fd);
        if (rc < 0) Log($"{c}: release of handle {h.Handle} = {rc}");
        Reply(c, h.Seq, 0, 0);
    }

    private void DupRequest(Connection c, in RequestHeader h)
    {
        if (c.Process is not { } p || !c.TryPeekFd(h.Handle, out int fd))
        {
            Reply(c, h.Seq, -1, WireErrno.EBADF);
            return;
        }
        long rc = _kernel.Dup(p, fd);
        if (rc < 0)
        {
            Reply(c, h.Seq, -1, Fail(rc));
            return;
        }
        c.AddFd(h.Handle, (int)rc);
        Reply(c, h.Seq, 0, 0);
    }

    /// <summary>pthread_atfork prepare (selftest-shim.md §4.3): the child's references are taken now, in a
    /// model process waiting for the child's HELLO, so the parent may exit at once.</summary>
    private void ForkPrepare(Connection c, in RequestHeader h, ReadOnlySpan<byte> payload)
    {
        if (payload.Length % ForkEntrySize != 0 || c.Process is not { } p)
        {
            Reply(c, h.Seq, -1, c.Process is null ? WireErrno.EBADF : WireErrno.EPROTO);
            return;
        }
        PendingFork? pf;
        ulong token = h.Handle;
        if (token == 0)
        {
            var child = _kernel.CreateProcess();
            _kernel.SetrlimitNofile(child, ModelFdLimit, ModelFdLimit);
            token = _nextToken++;
            pf = new PendingFork(child, c, [], _generation);
            _pendingForks[token] = pf;
        }
        else if (!_pendingForks.TryGetValue(token, out pf) || pf.ParentConnection != c)
        {
            Reply(c, h.Seq, -1, (int)Errno.ENOENT);
            return;
        }
        for (int off = 0; off < payload.Length; off += ForkEntrySize)
        {
            ulong handle = BinaryPrimitives.ReadUInt64LittleEndian(payload[off..]);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(payload[(off + 8)..]);
            if (!c.TryPeekFd(handle, out int fd)) continue;
            int take = (int)Math.Min(count, (uint)c.CountOf(handle));
            if (take != count) Log($"{c}: fork claims {count} fds of handle {handle}, holds {c.CountOf(handle)}");
            for (int i = 0; i < take; i++)
            {
                long nfd = _kernel.PassFd(p, fd, pf.Child, cloexec: false);
                if (nfd < 0) break;
                if (!pf.Fds.TryGetValue(handle, out var s)) pf.Fds[handle] = s = new Stack<int>();
                s.Push((int)nfd);
            }
        }
        Reply(c, h.Seq, 0, 0, token);
    }

    private void ForkCancel(Connection c, in RequestHeader h)
    {
        if (_pendingForks.TryGetValue(h.Handle, out var pf) && pf.ParentConnection == c)
        {
            _pendingForks.Remove(h.Handle);
            _kernel.Exit(pf.Child);
        }
        Reply(c, h.Seq, 0, 0);
    }

    private void FstatfsRequest(Connection c, in RequestHeader h)
    {
        if (c.Process is not { } p || !c.TryPeekFd(h.Handle, out int fd))
        {
            Reply(c, h.Seq, -1, WireErrno.EBADF);
            return;
        }
        bool session = p.FileOf(fd) is SessionFile;
        Reply(c, h.Seq, session && _variants.SessionInode != SessionInodeVariant.Anon ? LuoSessionMagic : AnonInodeMagic, 0);
    }
}
