using System.Runtime.InteropServices;

namespace LuoModel.Serve.Native;

/// <summary>struct iovec (x86-64 / LP64 Linux: 16 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal unsafe struct IoVec
{
    [FieldOffset(0)] public void* Base;
    [FieldOffset(8)] public nuint Length;
}

/// <summary>struct msghdr (x86-64 / LP64 Linux: 56 bytes; msg_namelen and msg_flags are 4-byte ints followed
/// by padding).</summary>
[StructLayout(LayoutKind.Explicit, Size = 56)]
internal unsafe struct MsgHdr
{
    [FieldOffset(0)] public void* Name;
    [FieldOffset(8)] public uint NameLength;
    [FieldOffset(16)] public IoVec* Iov;
    [FieldOffset(24)] public nuint IovLength;
    [FieldOffset(32)] public void* Control;
    [FieldOffset(40)] public nuint ControlLength;
    [FieldOffset(48)] public int Flags;
}

/// <summary>struct cmsghdr header (x86-64 / LP64 Linux: cmsg_len is a size_t, data starts at 16).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct CmsgHdr
{
    [FieldOffset(0)] public nuint Length;
    [FieldOffset(8)] public int Level;
    [FieldOffset(12)] public int Type;

    /// <summary>CMSG_ALIGN(sizeof(struct cmsghdr)): where the data begins.</summary>
    public const int DataOffset = 16;

    /// <summary>CMSG_LEN(n).</summary>
    public static int Len(int dataBytes) => DataOffset + dataBytes;

    /// <summary>CMSG_SPACE(n): data rounded up to 8 bytes.</summary>
    public static int Space(int dataBytes) => DataOffset + ((dataBytes + 7) & ~7);
}

/// <summary>struct pollfd (8 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct PollFd
{
    [FieldOffset(0)] public int Fd;
    [FieldOffset(4)] public short Events;
    [FieldOffset(6)] public short Revents;
}

/// <summary>struct ucred (SO_PEERCRED).</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
internal struct UCred
{
    [FieldOffset(0)] public int Pid;
    [FieldOffset(4)] public uint Uid;
    [FieldOffset(8)] public uint Gid;
}

/// <summary>Linux constants of the calls below (x86-64 values; asm-generic where they agree).</summary>
internal static class LinuxConst
{
    public const int AF_UNIX = 1;
    public const int SOCK_SEQPACKET = 5;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_PEERCRED = 17;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SCM_RIGHTS = 1;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const short POLLIN = 0x1;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;
    public const short POLLRDHUP = 0x2000;
    public const uint MFD_CLOEXEC = 1;
    public const uint MFD_ALLOW_SEALING = 2;
    public const int F_GETFL = 3;
    public const int F_ADD_SEALS = 1033;
    public const int F_GET_SEALS = 1034;
    public const int SEEK_SET = 0;
    public const int SEEK_CUR = 1;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const int S_IFMT = 0xF000;
    public const int S_IFREG = 0x8000;
    public const long TMPFS_MAGIC = 0x01021994;
    public const long HUGETLBFS_MAGIC = 0x958458f6;
    public const int RLIMIT_NOFILE = 7;
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;
    public const int SIGKILL = 9;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EEXIST = 17;
    public const int ECONNREFUSED = 111;

    /// <summary>struct statx field offsets (arch independent).</summary>
    public const int StatxSize = 256, StatxMode = 28, StatxIno = 32, StatxSizeField = 40, StatxDevMajor = 136, StatxDevMinor = 140;
}

/// <summary>The libc entry points the daemon needs (no managed API exposes SCM_RIGHTS, SO_PEERCRED or
/// memfd_create). Results are the raw C results; errno is read with
/// <see cref="Marshal.GetLastPInvokeError"/>.</summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(int fd, byte* addr, uint addrLength);

    [LibraryImport(Lib, EntryPoint = "connect", SetLastError = true)]
    internal static partial int Connect(int fd, byte* addr, uint addrLength);

    [LibraryImport(Lib, EntryPoint = "listen", SetLastError = true)]
    internal static partial int Listen(int fd, int backlog);

    [LibraryImport(Lib, EntryPoint = "accept4", SetLastError = true)]
    internal static partial int Accept4(int fd, void* addr, void* addrLength, int flags);

    [LibraryImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
    internal static partial nint SendMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int Ftruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "pread", SetLastError = true)]
    internal static partial nint Pread(int fd, byte* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite", SetLastError = true)]
    internal static partial nint Pwrite(int fd, byte* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "lseek", SetLastError = true)]
    internal static partial long Lseek(int fd, long offset, int whence);

    /// <summary>fcntl with an int argument (F_GETFL, F_GET_SEALS, F_ADD_SEALS).</summary>
    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buf);

    [LibraryImport(Lib, EntryPoint = "fstatfs", SetLastError = true)]
    internal static partial int Fstatfs(int fd, byte* buf);

    [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Readlink(string path, byte* buf, nuint size);

    [LibraryImport(Lib, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Unlink(string path);

    [LibraryImport(Lib, EntryPoint = "getrlimit", SetLastError = true)]
    internal static partial int Getrlimit(int resource, ulong* limits);

    [LibraryImport(Lib, EntryPoint = "setrlimit", SetLastError = true)]
    internal static partial int Setrlimit(int resource, ulong* limits);

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    internal static partial uint Geteuid();

    [LibraryImport(Lib, EntryPoint = "getpid")]
    internal static partial int Getpid();

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int Eventfd(uint initial, int flags);

    /// <summary>The errno of the last call above.</summary>
    internal static int Errno => Marshal.GetLastPInvokeError();
}
