using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Serve.Native;

namespace LuoModel.Serve;

public sealed partial class LuoDaemon
{
    private const int PageSize = UserMemory.PageSize;
    private int _openHostFiles;

    /// <summary>
    /// IOCTL (selftest-shim.md §5.1): rebuilds the caller's struct in the model process's memory with the same
    /// page offset and the same readable / writable / unreadable pages the shim probed, so the model's own
    /// dispatcher (luo.md §3.2) takes every EFAULT, E2BIG and EMFILE decision in its own order. A new session
    /// becomes a handle; a retrieved memfd crosses back as a real memfd.
    /// </summary>
    private void IoctlRequestHandler(Connection c, in RequestHeader h, ReadOnlySpan<byte> payload, ref int passedFd)
    {
        if (!IoctlRequest.TryRead(payload, out var rq, out var data))
        {
            Log($"{c}: malformed IOCTL payload ({payload.Length} bytes)");
            Reply(c, h.Seq, -1, WireErrno.EPROTO);
            return;
        }
        if (c.Process is not { } p || !c.TryPeekFd(h.Handle, out int mfd))
        {
            Reply(c, h.Seq, -1, WireErrno.EBADF);
            return;
        }
        var view = new StructView(rq);
        int pages = (view.RegionLength + PageSize - 1) / PageSize;
        ulong mapped = p.Memory.Map((ulong)pages * PageSize, Prot.Read | Prot.Write);
        ulong addr = mapped + rq.ArgPageOffset;
        try
        {
            p.Memory.Poke(addr, data[..view.Readable]);
            Span<byte> le = stackalloc byte[4];
            if (view.ModelSize != view.UserSize && view.Readable >= 4)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(le, view.ModelSize);
                p.Memory.Poke(addr, le);
            }
            if (rq.Tail == TailStatus.NonZero && view.TailEnd > IoctlRequest.Window) p.Memory.Poke(addr + IoctlRequest.Window, [1]);
            for (int i = 0; i < pages; i++)
                p.Memory.Protect(mapped + (ulong)(i * PageSize), PageSize, view.PageProt(i * PageSize - (int)rq.ArgPageOffset));

            int tempFd = -1;
            bool patchedFd = false;
            if (rq.Preserve != PreserveKind.None && view.Readable >= 8)
            {
                int target = -1;
                if (rq.Preserve == PreserveKind.Passed && passedFd >= 0) target = tempFd = InstallReceived(c, p, ref passedFd);
                else if (rq.Preserve == PreserveKind.Owned && c.TryPeekFd(rq.OwnedHandle, out int owned)) target = owned;
                BinaryPrimitives.WriteInt32LittleEndian(le, target);
                p.Memory.Poke(addr + 4, le);
                patchedFd = true;
            }

            ulong soft = p.NofileSoft;
            if (rq.SlotTried && rq.SlotFailed) _kernel.SetrlimitNofile(p, (ulong)LowestFree(p), p.NofileHard);
            long rc;
            int newFd = -1;
            try
            {
                rc = _kernel.Ioctl(p, mfd, h.Cmd, addr);
                // a new file was installed when the fd the model wrote back is open and unknown to us
                if (rc >= 0 && view.Readable >= 8)
                {
                    int candidate = BinaryPrimitives.ReadInt32LittleEndian(p.Memory.Peek(addr + 4, 4));
                    if (candidate >= 0 && candidate != tempFd && !c.Tracks(candidate) && p.FileOf(candidate) is not null) newFd = candidate;
                }
            }
            finally
            {
                _kernel.SetrlimitNofile(p, soft, p.NofileHard);
                if (tempFd >= 0) _kernel.Close(p, tempFd);
            }
            if (_options.Verbose) Log($"{c}: ioctl 0x{h.Cmd:x} on handle {h.Handle} = {(rc < 0 ? "-" + (Errno)(-rc) : rc.ToString(System.Globalization.CultureInfo.InvariantCulture))}");
            if (rc < 0)
            {
                Reply(c, h.Seq, -1, Fail(rc));
                return;
            }
            int outLen = Math.Min(view.Writable, (int)Math.Min(view.ModelSize, (uint)view.Window));
            byte[] output = p.Memory.Peek(addr, outLen);
            if (view.ModelSize != view.UserSize && outLen >= 4) data[..4].CopyTo(output);
            if (patchedFd && outLen >= 8) data[4..8].CopyTo(output.AsSpan(4));
            if (newFd < 0)
            {
                Reply(c, h.Seq, (int)rc, 0, 0, output);
                return;
            }
            NewFile(c, p, h.Seq, (int)rc, newFd, output);
        }
        finally
        {
            p.Memory.Unmap(mapped, (ulong)pages * PageSize);
        }
    }

    /// <summary>A successful CREATE_SESSION / RETRIEVE_SESSION / RETRIEVE_FD installed <paramref name="newFd"/>
    /// in the model process: a session becomes a handle of the connection, a retrieved memfd a real memfd
    /// passed back (the model fd is closed: LUO keeps its own reference until FINISH, luo.md §2.3).</summary>
    private void NewFile(Connection c, Process p, uint seq, int ret, int newFd, byte[] output)
    {
        switch (p.FileOf(newFd))
        {
            case SessionFile s:
                c.AddFd(s.Id, newFd);
                Reply(c, seq, ret, 0, s.Id, output);
                return;
            case MemfdFile m:
                var host = m.Inode.Host as HostFile;
                if (host is null || host.Fd < 0)
                {
                    host = HostFile.CreateMemfd(m, out int e);
                    if (host is null)
                    {
                        _kernel.Close(p, newFd);
                        Log($"{c}: cannot create the retrieved memfd on the host (errno {e})");
                        Reply(c, seq, -1, e);
                        return;
                    }
                    Track(host);
                    if (!_kernel.AttachHostBacking(m, host))
                    {
                        host.Release();
                        _kernel.Close(p, newFd);
                        Reply(c, seq, -1, WireErrno.EIO);
                        return;
                    }
                }
                _kernel.Close(p, newFd);
                Reply(c, seq, ret, 0, 0, output, host.Fd);
                return;
            case { } other:
                _kernel.Close(p, newFd);
                Log($"{c}: retrieved {other.PathName} has no host equivalent");
                Reply(c, seq, -1, WireErrno.EOPNOTSUPP);
                return;
            default:
                Reply(c, seq, ret, 0, 0, output);
                return;
        }
    }

    /// <summary>Installs the descriptor a PRESERVE_FD carried (selftest-shim.md §6.1): a memfd becomes a
    /// host-backed model memfd (the daemon keeps the descriptor), anything else a stand-in no handler accepts.
    /// Returns the model fd (or -1).</summary>
    private int InstallReceived(Connection c, Process p, ref int passedFd)
    {
        var kind = HostFile.Classify(passedFd, out string link);
        if (kind == HostFileKind.Other)
        {
            long r = _kernel.InstallHostForeignFile(p, link.Length > 0 ? link : "host file");
            return r >= 0 ? (int)r : -1;
        }
        var hf = HostFile.Adopt(passedFd);
        passedFd = -1;
        if (hf is null) return -1;
        Track(hf);
        long fd = _kernel.InstallHostMemfd(p, hf, kind == HostFileKind.HugetlbMemfd);
        if (_options.Verbose) Log($"{c}: received {link} (dev {hf.Id.Device:x} ino {hf.Id.Inode})");
        return fd >= 0 ? (int)fd : -1;
    }

    private void Track(HostFile hf)
    {
        _openHostFiles++;
        hf.Released = _ => _openHostFiles--;
    }

    private static int LowestFree(Process p)
    {
        int expected = 0;
        foreach (int fd in p.OpenFds)
        {
            if (fd == expected) expected++;
            else if (fd > expected) break;
        }
        return expected;
    }

    /// <summary>The model-side shape of the caller's struct (selftest-shim.md §5.1): offsets are relative to
    /// the struct's address; page boundaries fall where the caller's do.</summary>
    private readonly struct StructView
    {
        public StructView(in IoctlRequest rq)
        {
            UserSize = rq.SizeReadable ? rq.UserSize : 0;
            Window = rq.SizeReadable ? (int)Math.Clamp(UserSize, 4u, (uint)IoctlRequest.Window) : 4;
            Readable = rq.SizeReadable ? Math.Min((int)rq.ReadableLength, Window) : 0;
            Writable = Math.Min((int)rq.WritableLength, Readable);
            ModelSize = UserSize;
            TailEnd = Window;
            TailBoundary = int.MaxValue;
            if (rq.SizeReadable && UserSize > IoctlRequest.Window && Readable == IoctlRequest.Window)
            {
                // the tail beyond the window is summarised by its first notable byte (its position does not
                // change any result): zero → the model sees a 4096-byte struct; non-zero → one byte after the
                // window; unreadable → the first page boundary after the window, zeros before it
                switch (rq.Tail)
                {
                    case TailStatus.Zero:
                        ModelSize = IoctlRequest.Window;
                        break;
                    case TailStatus.NonZero:
                        ModelSize = IoctlRequest.Window + 1;
                        TailEnd = IoctlRequest.Window + 1;
                        break;
                    default:
                        int end = (int)rq.ArgPageOffset + IoctlRequest.Window;
                        TailBoundary = IoctlRequest.Window + ((PageSize - (end % PageSize)) % PageSize);
                        ModelSize = (uint)TailBoundary + 1;
                        TailEnd = TailBoundary + 1;
                        break;
                }
            }
            RegionLength = (int)rq.ArgPageOffset + Math.Max(Window, TailEnd);
        }

        public uint UserSize { get; }
        public uint ModelSize { get; }
        public int Window { get; }
        public int Readable { get; }
        public int Writable { get; }
        public int TailEnd { get; }
        public int TailBoundary { get; }
        public int RegionLength { get; }

        /// <summary>Protection of the page whose first byte is at <paramref name="rel"/> (negative = the
        /// bytes before the struct, which share its first page).</summary>
        public Prot PageProt(int rel)
        {
            int r = Math.Max(0, rel);
            if (r < Window) return r < Writable ? Prot.Read | Prot.Write : r < Readable ? Prot.Read : Prot.None;
            return r >= TailBoundary ? Prot.None : Prot.Read;
        }
    }
}
