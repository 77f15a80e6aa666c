using System.Buffers.Binary;
using System.Collections.Immutable;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Histories;

internal sealed partial class ModelStep
{
    /// <summary>The user buffer of one ioctl: the input bytes at a placement in the trace region.</summary>
    private sealed class UserBuf(IoctlOp io)
    {
        public byte[] In { get; } = io.Input;
        public int Mapped { get; } = TraceTarget.Mapped(io.Place, io.Split);
        /// <summary>Offset of the first page boundary after the start.</summary>
        public int Boundary { get; } = io.Place is BufPlace.RwRo or BufPlace.RoHole ? io.Split : Page;
        /// <summary>Bytes writable from the start before the first read-only or missing page.</summary>
        public int Writable { get; } = io.Place switch { BufPlace.Rw => 2 * Page, BufPlace.RwRo => io.Split, _ => 0 };
        public byte[] Window { get; } = TraceFormat.InputWindow(io);

        public bool Readable(long off, long n) => off + n <= Mapped;
        public byte At(long off) => off < In.Length ? In[off] : (byte)0;

        /// <summary>check_zeroed_user over [off, off+n): page by page, unreadable → EFAULT, non-zero → E2BIG.</summary>
        public Errno CheckZero(long off, long n)
        {
            long end = off + n;
            while (off < end)
            {
                long pageEnd = off < Boundary ? Boundary : Boundary + (((off - Boundary) / Page) + 1) * Page;
                long chunkEnd = Math.Min(pageEnd, end);
                if (!Readable(off, chunkEnd - off)) return Errno.EFAULT;
                for (long i = off; i < chunkEnd; i++) if (At(i) != 0) return Errno.E2BIG;
                off = chunkEnd;
            }
            return Errno.Ok;
        }

        /// <summary>copy_to_user of <paramref name="reply"/>[0..n): writes what fits before the first
        /// non-writable page; true when everything was written.</summary>
        public bool Reply(byte[] reply, int n)
        {
            int w = Math.Min(n, Math.Min(Writable, Window.Length));
            reply.AsSpan(0, w).CopyTo(Window);
            return n <= Writable;
        }
    }

    /// <summary>Dispatch entry: min_size, ksize, reply size R (luo.md §3.2, §3.3; GET_NAME 16/16/72 in N).</summary>
    private static (int Min, int KSize, int R) Sizes(uint nr) => nr switch
    {
        0 or 1 => (72, 72, 72),
        0x40 or 0x41 => (16, 16, 16),
        0x42 => (8, 8, 8),
        _ => (16, 16, 72),
    };

    private long Ioctl(IoctlOp io)
    {
        var buf = new UserBuf(io);
        _data = buf.Window;
        if (!_m.Fds.TryGetValue(io.Fd, out int id) || D(id).Kind == DKind.Path) return E(Errno.EBADF);
        if (io.Cmd is FcntlCmd.FIOCLEX or FcntlCmd.FIONCLEX) return 0;
        long r = D(id).Kind switch
        {
            DKind.Device => DeviceIoctl(io, buf),
            DKind.Session => SessionIoctl(io, buf, id),
            _ => E(Errno.ENOTTY),
        };
        _data = buf.Window;
        return r;
    }

    /// <summary>§3.2 steps 2–6 (the direction check of step 4 is passed in).</summary>
    private Errno CopyIn(IoctlOp io, UserBuf u, uint nr, Func<Errno>? direction, out byte[] kbuf, out uint size)
    {
        kbuf = [];
        size = 0;
        var (min, ksize, r) = Sizes(nr);
        if (!u.Readable(0, 4)) return Errno.EFAULT;
        size = (uint)(u.At(0) | (u.At(1) << 8) | (u.At(2) << 16) | (u.At(3) << 24));
        if (io.Cmd != (0xBA00u | nr)) return Errno.ENOTTY;
        if (direction?.Invoke() is { } d && d != Errno.Ok) return d;
        if (size < min) return Errno.EINVAL;
        if (size > ksize && u.CheckZero(ksize, size - (long)ksize) is var z && z != Errno.Ok) return z;
        if (!u.Readable(0, ksize)) return Errno.EFAULT;
        kbuf = new byte[Math.Max(ksize, r)];
        for (int i = 0; i < ksize; i++) kbuf[i] = u.At(i);
        return Errno.Ok;
    }

    private long DeviceIoctl(IoctlOp io, UserBuf u)
    {
        uint nr = io.Cmd & 0xFF;
        if (nr >= 2) return E(Errno.EINVAL);
        Errno rc = CopyIn(io, u, nr, null, out var kbuf, out uint size);
        if (rc != Errno.Ok) return E(rc);
        int n = (int)Math.Min(size, 72u);
        return nr == 0 ? CreateSession(u, kbuf, n) : RetrieveSession(u, kbuf, n);
    }

    private static bool NamesEqual(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        for (int i = 0; i < 64; i++)
        {
            if (a[i] != b[i]) return false;
            if (a[i] == 0) return true;
        }
        return true;
    }

    /// <summary>kho_block_set_grow of the outgoing session set to <paramref name="n"/> entries.</summary>
    private Errno GrowSessions(int n)
    {
        int added = 0;
        while (n > (_m.SBlocks + added) * SessionsPerBlock)
        {
            Errno e = Hit(FaultPoint.SessionBlockGrow);
            if (e == Errno.Ok) e = Hit(FaultPoint.KhoAllocPreserve);
            if (e != Errno.Ok) return e;
            added++;
        }
        _m = _m with { SBlocks = _m.SBlocks + added };
        return Errno.Ok;
    }

    private void ShrinkSessions()
    {
        int n = _m.Out.Count, b = _m.SBlocks;
        while (b > 0 && n <= (b - 1) * SessionsPerBlock) b--;
        _m = _m with { SBlocks = b };
    }

    private long CreateSession(UserBuf u, byte[] kbuf, int n)
    {
        int fd = LowestFree();
        if (fd < 0) return E(Errno.EMFILE);
        var name = kbuf.AsSpan(8, 64);
        int len = name.IndexOf((byte)0);
        if (len < 0) len = 64;
        if (len is 0 or > 63) return E(Errno.EINVAL);
        var field = new byte[64];
        name[..len].CopyTo(field);
        if (Hit(FaultPoint.SessionAlloc) is var a && a != Errno.Ok) return E(a);
        if (_m.Phase == Phase.Frozen) return TraceResult.Frozen;
        Errno g = GrowSessions(_m.Out.Count + 1);
        if (g != Errno.Ok) return E(g);
        if (_m.Out.Any(s => NamesEqual(s.Name, field)))
        {
            _exception = true; // a grown empty block stays (luo.md §3.4 step 6)
            return E(Errno.EEXIST);
        }
        int desc = NewDesc(new Desc(DKind.Session));
        _m = _m with { Out = _m.Out.Add(new OSess(desc, field, [])) };
        if (Hit(FaultPoint.SessionFileAlloc) is var f && f != Errno.Ok)
        {
            RemoveOut(desc);
            return E(f);
        }
        BinaryPrimitives.WriteInt32LittleEndian(kbuf.AsSpan(4), fd);
        if (!u.Reply(kbuf, n))
        {
            _exception = true;
            RemoveOut(desc);
            return E(Errno.EFAULT);
        }
        Install(fd, desc);
        return 0;
    }

    private void RemoveOut(int desc)
    {
        _m = _m with { Out = _m.Out.RemoveAll(s => s.Desc == desc) };
        ShrinkSessions();
    }

    private long RetrieveSession(UserBuf u, byte[] kbuf, int n)
    {
        int fd = LowestFree();
        if (fd < 0) return E(Errno.EMFILE);
        if (_m.Phase == Phase.Frozen) return TraceResult.Frozen;
        int idx = _m.In.FindIndex(s => NamesEqual(s.Name, kbuf.AsSpan(8, 64)));
        if (idx < 0) return E(Errno.ENOENT);
        if (_m.In[idx].State != IState.Pending) return E(Errno.EINVAL);
        if (Hit(FaultPoint.SessionFileAlloc) is var f && f != Errno.Ok) return E(f);
        int desc = NewDesc(new Desc(DKind.Session));
        _m = _m with { In = _m.In.SetItem(idx, _m.In[idx] with { State = IState.Open, Desc = desc }) };
        BinaryPrimitives.WriteInt32LittleEndian(kbuf.AsSpan(4), fd);
        if (!u.Reply(kbuf, n))
        {
            _exception = true;
            SessionRelease(desc);
            return E(Errno.EFAULT);
        }
        Install(fd, desc);
        return 0;
    }

    private long SessionIoctl(IoctlOp io, UserBuf u, int desc)
    {
        uint nr = io.Cmd & 0xFF;
        if (nr is < 0x40 or >= 0x44) return E(Errno.EINVAL);
        int oi = _m.Out.FindIndex(s => s.Desc == desc);
        int ii = _m.In.FindIndex(s => s.Desc == desc && s.State == IState.Open);
        Errno Direction() => nr switch
        {
            0x40 => oi >= 0 ? Errno.Ok : Errno.EINVAL,
            0x41 or 0x42 => ii >= 0 ? Errno.Ok : Errno.EINVAL,
            _ => Errno.Ok,
        };
        Errno rc = CopyIn(io, u, nr, Direction, out var kbuf, out uint size);
        if (rc != Errno.Ok) return E(rc);
        if (_m.Phase == Phase.Frozen) return TraceResult.Frozen;
        var (_, _, r) = Sizes(nr);
        int n = (int)Math.Min(size, (uint)r);
        switch (nr)
        {
            case 0x40: return PreserveFd(u, kbuf, n, oi);
            case 0x41: return RetrieveFd(u, kbuf, n, ii);
            case 0x42:
                rc = FinishSession(ii);
                if (rc != Errno.Ok) return E(rc);
                if (!u.Reply(kbuf, n)) { _exception = true; return E(Errno.EFAULT); }
                return 0;
            default:
                if (BinaryPrimitives.ReadUInt32LittleEndian(kbuf.AsSpan(4)) != 0) return E(Errno.EINVAL);
                byte[] name = oi >= 0 ? _m.Out[oi].Name : _m.In.Find(s => s.Desc == desc)!.Name;
                int len = Array.IndexOf(name, (byte)0);
                name.AsSpan(0, len).CopyTo(kbuf.AsSpan(8));
                kbuf[8 + len] = 0;
                return u.Reply(kbuf, n) ? 0 : E(Errno.EFAULT);
        }
    }
}
