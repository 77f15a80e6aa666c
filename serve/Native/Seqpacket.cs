using System.Text;

namespace LuoModel.Serve.Native;

/// <summary>Result of one <see cref="Seqpacket.Receive"/>.</summary>
/// <param name="Length">Bytes of the message (0 with <paramref name="Eof"/> false = an empty message); -1 = no
/// message waiting (EAGAIN) or an error (<paramref name="Error"/>).</param>
/// <param name="Fd">The one descriptor that came with it, or -1 (the receiver owns it).</param>
/// <param name="Eof">The peer has gone and nothing is queued.</param>
/// <param name="Truncated">The message or its control data did not fit (extra descriptors were closed).</param>
/// <param name="ExtraFds">Descriptors beyond the first (already closed).</param>
/// <param name="Error">errno of a failed receive (0 otherwise).</param>
internal readonly record struct Received(int Length, int Fd, bool Eof, bool Truncated, int ExtraFds, int Error);

/// <summary>
/// AF_UNIX SOCK_SEQPACKET sockets with at most one descriptor per message in SCM_RIGHTS (selftest-shim.md §5).
/// Paths starting with '@' are Linux abstract names.
/// </summary>
internal static unsafe class Seqpacket
{
    private const int SunPathOffset = 2, SunPathLength = 108, SockaddrUnSize = 110;
    private const int ControlBytes = 64; // room for a few descriptors so extras can be detected and closed

    private static int FillAddress(string path, Span<byte> sa)
    {
        sa.Clear();
        sa[0] = LinuxConst.AF_UNIX; // sa_family, little-endian u16
        byte[] p = Encoding.UTF8.GetBytes(path);
        bool isAbstract = p.Length > 0 && p[0] == (byte)'@';
        if (p.Length == 0 || p.Length >= SunPathLength) return -1;
        p.CopyTo(sa[SunPathOffset..]);
        if (isAbstract)
        {
            sa[SunPathOffset] = 0;
            return SunPathOffset + p.Length;
        }
        return SunPathOffset + p.Length + 1;
    }

    /// <summary>Creates a non-blocking listening socket at <paramref name="path"/> (a stale socket file is
    /// replaced). Returns the fd or −errno.</summary>
    public static int Listen(string path)
    {
        Span<byte> sa = stackalloc byte[SockaddrUnSize];
        int len = FillAddress(path, sa);
        if (len < 0) return -36; // ENAMETOOLONG
        int fd = Libc.Socket(LinuxConst.AF_UNIX, LinuxConst.SOCK_SEQPACKET | LinuxConst.SOCK_CLOEXEC | LinuxConst.SOCK_NONBLOCK, 0);
        if (fd < 0) return -Libc.Errno;
        if (path[0] != '@') Libc.Unlink(path);
        fixed (byte* a = sa)
        {
            if (Libc.Bind(fd, a, (uint)len) < 0 || Libc.Listen(fd, 128) < 0)
            {
                int e = Libc.Errno;
                Libc.Close(fd);
                return -e;
            }
        }
        return fd;
    }

    /// <summary>Connects a blocking client socket; returns the fd or −errno.</summary>
    public static int Connect(string path)
    {
        Span<byte> sa = stackalloc byte[SockaddrUnSize];
        int len = FillAddress(path, sa);
        if (len < 0) return -36;
        int fd = Libc.Socket(LinuxConst.AF_UNIX, LinuxConst.SOCK_SEQPACKET | LinuxConst.SOCK_CLOEXEC, 0);
        if (fd < 0) return -Libc.Errno;
        fixed (byte* a = sa)
        {
            if (Libc.Connect(fd, a, (uint)len) < 0)
            {
                int e = Libc.Errno;
                Libc.Close(fd);
                return -e;
            }
        }
        return fd;
    }

    /// <summary>accept4 (non-blocking, close-on-exec); returns the fd, or −errno (−EAGAIN when none waits).</summary>
    public static int Accept(int listenFd)
    {
        int fd = Libc.Accept4(listenFd, null, null, LinuxConst.SOCK_CLOEXEC | LinuxConst.SOCK_NONBLOCK);
        return fd >= 0 ? fd : -Libc.Errno;
    }

    /// <summary>SO_PEERCRED of a connected socket.</summary>
    public static bool PeerCredentials(int fd, out int pid, out uint uid)
    {
        UCred c = default;
        uint len = (uint)sizeof(UCred);
        int rc = Libc.GetSockOpt(fd, LinuxConst.SOL_SOCKET, LinuxConst.SO_PEERCRED, &c, &len);
        pid = c.Pid;
        uid = c.Uid;
        return rc == 0;
    }

    /// <summary>Raises SO_SNDBUF/SO_RCVBUF (best effort) so large control replies fit in one message.</summary>
    public static void SetBuffers(int fd, int bytes)
    {
        int v = bytes;
        Libc.SetSockOpt(fd, LinuxConst.SOL_SOCKET, LinuxConst.SO_SNDBUF, &v, sizeof(int));
        Libc.SetSockOpt(fd, LinuxConst.SOL_SOCKET, LinuxConst.SO_RCVBUF, &v, sizeof(int));
    }

    /// <summary>Sends one message (two parts gathered), with <paramref name="passFd"/> in SCM_RIGHTS when
    /// ≥ 0. Never blocks and never raises SIGPIPE. Returns 0 or the errno.</summary>
    public static int Send(int fd, ReadOnlySpan<byte> head, ReadOnlySpan<byte> body, int passFd, bool dontWait = true)
    {
        byte* control = stackalloc byte[CmsgHdr.Space(sizeof(int))];
        fixed (byte* h = head)
        fixed (byte* b = body)
        {
            IoVec* iov = stackalloc IoVec[2];
            iov[0].Base = h;
            iov[0].Length = (nuint)head.Length;
            iov[1].Base = b;
            iov[1].Length = (nuint)body.Length;
            MsgHdr msg = default;
            msg.Iov = iov;
            msg.IovLength = body.Length > 0 ? 2u : 1u;
            if (passFd >= 0)
            {
                new Span<byte>(control, CmsgHdr.Space(sizeof(int))).Clear();
                var c = (CmsgHdr*)control;
                c->Length = (nuint)CmsgHdr.Len(sizeof(int));
                c->Level = LinuxConst.SOL_SOCKET;
                c->Type = LinuxConst.SCM_RIGHTS;
                *(int*)(control + CmsgHdr.DataOffset) = passFd;
                msg.Control = control;
                msg.ControlLength = (nuint)CmsgHdr.Space(sizeof(int));
            }
            int flags = LinuxConst.MSG_NOSIGNAL | (dontWait ? LinuxConst.MSG_DONTWAIT : 0);
            while (true)
            {
                nint n = Libc.SendMsg(fd, &msg, flags);
                if (n >= 0) return 0;
                int e = Libc.Errno;
                if (e != LinuxConst.EINTR) return e;
            }
        }
    }

    /// <summary>Receives one message into <paramref name="buffer"/> (descriptors arrive close-on-exec).</summary>
    public static Received Receive(int fd, Span<byte> buffer, bool dontWait = true)
    {
        byte* control = stackalloc byte[ControlBytes];
        fixed (byte* b = buffer)
        {
            IoVec iov;
            iov.Base = b;
            iov.Length = (nuint)buffer.Length;
            MsgHdr msg = default;
            msg.Iov = &iov;
            msg.IovLength = 1;
            msg.Control = control;
            msg.ControlLength = ControlBytes;
            int flags = LinuxConst.MSG_CMSG_CLOEXEC | (dontWait ? LinuxConst.MSG_DONTWAIT : 0);
            nint n;
            while (true)
            {
                n = Libc.RecvMsg(fd, &msg, flags);
                if (n >= 0) break;
                int e = Libc.Errno;
                if (e == LinuxConst.EINTR) continue;
                return new Received(-1, -1, false, false, 0, e);
            }
            int got = -1, extra = 0;
            if (msg.ControlLength >= (nuint)CmsgHdr.DataOffset)
            {
                // walk every cmsghdr; keep the first descriptor, close the rest
                nuint off = 0;
                while (off + (nuint)CmsgHdr.DataOffset <= msg.ControlLength)
                {
                    var c = (CmsgHdr*)(control + off);
                    if (c->Length < (nuint)CmsgHdr.DataOffset || off + c->Length > msg.ControlLength) break;
                    if (c->Level == LinuxConst.SOL_SOCKET && c->Type == LinuxConst.SCM_RIGHTS)
                    {
                        int count = (int)((c->Length - (nuint)CmsgHdr.DataOffset) / sizeof(int));
                        int* fds = (int*)(control + off + CmsgHdr.DataOffset);
                        for (int i = 0; i < count; i++)
                        {
                            if (got < 0) got = fds[i];
                            else { Libc.Close(fds[i]); extra++; }
                        }
                    }
                    off += (c->Length + 7) & ~(nuint)7;
                }
            }
            bool truncated = (msg.Flags & (LinuxConst.MSG_TRUNC | LinuxConst.MSG_CTRUNC)) != 0;
            bool eof = n == 0 && got < 0 && PeerGone(fd);
            return new Received((int)n, got, eof, truncated, extra, 0);
        }
    }

    /// <summary>True when the peer of a connected socket has closed (POLLHUP/POLLRDHUP now).</summary>
    public static bool PeerGone(int fd)
    {
        PollFd p = default;
        p.Fd = fd;
        p.Events = LinuxConst.POLLIN | LinuxConst.POLLRDHUP;
        int rc = Libc.Poll(&p, 1, 0);
        return rc > 0 && (p.Revents & (LinuxConst.POLLHUP | LinuxConst.POLLRDHUP | LinuxConst.POLLERR | LinuxConst.POLLNVAL)) != 0;
    }
}
