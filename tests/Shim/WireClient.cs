using System.Buffers.Binary;
using System.Text;
using LuoModel.Serve;
using LuoModel.Serve.Native;

namespace LuoModel.Tests.Shim;

/// <summary>One reply as the shim sees it.</summary>
internal sealed record WireReply(int Ret, int Err, ulong NewHandle, byte[] Out, int Fd);

/// <summary>
/// A test-side speaker of the shim wire protocol (selftest-shim.md §5), standing in for libluoshim.so so the
/// daemon can be exercised without gcc: raw requests, SCM_RIGHTS, garbage.
/// </summary>
internal sealed class WireClient : IDisposable
{
    private readonly byte[] _rx = new byte[256 * 1024];
    private uint _seq;

    private WireClient(int fd) => Fd = fd;

    public int Fd { get; private set; }

    public static WireClient Connect(string path)
    {
        int fd = Seqpacket.Connect(path);
        Assert.True(fd >= 0, $"connect {path}: errno {-fd}");
        return new WireClient(fd);
    }

    public unsafe WireReply Request(ShimOp op, ulong handle = 0, uint cmd = 0, ReadOnlySpan<byte> payload = default, int passFd = -1)
    {
        Span<byte> head = stackalloc byte[RequestHeader.Size];
        new RequestHeader(op, ++_seq, Libc.Getpid(), handle, cmd, (uint)payload.Length).WriteTo(head);
        Assert.Equal(0, Seqpacket.Send(Fd, head, payload, passFd, dontWait: false));
        return ReadReply();
    }

    public unsafe WireReply RawRequest(ReadOnlySpan<byte> message)
    {
        Assert.Equal(0, Seqpacket.Send(Fd, message, default, -1, dontWait: false));
        return ReadReply(checkSeq: false);
    }

    private unsafe WireReply ReadReply(bool checkSeq = true)
    {
        var p = new PollFd { Fd = Fd, Events = LinuxConst.POLLIN };
        Assert.True(Libc.Poll(&p, 1, 20000) > 0, "no reply from the daemon");
        var r = Seqpacket.Receive(Fd, _rx, dontWait: false);
        Assert.True(r.Length >= ReplyHeader.Size, $"short reply {r.Length}");
        Assert.True(ReplyHeader.TryRead(_rx.AsSpan(0, r.Length), out var h));
        if (checkSeq) Assert.Equal(_seq, h.Seq);
        return new WireReply(h.Ret, h.Err, h.NewHandle, _rx.AsSpan(ReplyHeader.Size, (int)h.OutLength).ToArray(), r.Fd);
    }

    public WireReply Hello(ulong token = 0)
    {
        var b = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(b, token);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 1);
        return Request(ShimOp.Hello, payload: b);
    }

    public WireReply Open(string path = "/dev/liveupdate", int flags = 2) =>
        Request(ShimOp.Open, cmd: (uint)flags, payload: Encoding.UTF8.GetBytes(path));

    /// <summary>An ioctl whose struct is fully readable and writable (the common case).</summary>
    public WireReply Ioctl(ulong handle, uint cmd, byte[] structBytes, PreserveKind kind = PreserveKind.None, int passFd = -1,
        ulong owned = 0, bool slotFailed = false, uint argPageOffset = 0x100, uint? writable = null, TailStatus tail = TailStatus.Zero)
    {
        bool slot = cmd is 0xBA00 or 0xBA01 or 0xBA41;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(structBytes);
        int readable = Math.Min(structBytes.Length, (int)Math.Clamp(size, 4u, 4096u));
        var rq = new IoctlRequest(true, slot, slot && slotFailed, size, argPageOffset, (uint)readable, writable ?? (uint)readable, tail, kind, owned);
        return IoctlRaw(handle, cmd, rq, structBytes.AsSpan(0, readable), passFd);
    }

    public WireReply IoctlRaw(ulong handle, uint cmd, IoctlRequest rq, ReadOnlySpan<byte> data, int passFd = -1)
    {
        var payload = new byte[IoctlRequest.FixedSize + data.Length];
        rq.WriteTo(payload);
        data.CopyTo(payload.AsSpan(IoctlRequest.FixedSize));
        return Request(ShimOp.Ioctl, handle, cmd, payload, passFd);
    }

    public static byte[] SessionStruct(string name, uint size = 72)
    {
        var b = new byte[Math.Max(72, (int)size)];
        BinaryPrimitives.WriteUInt32LittleEndian(b, size);
        Encoding.ASCII.GetBytes(name).CopyTo(b, 8);
        return b;
    }

    public static byte[] FdStruct(int fd, ulong token)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 16);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), token);
        return b;
    }

    /// <summary>CREATE_SESSION on a device handle; returns the session handle (asserts success).</summary>
    public ulong CreateSession(ulong dev, string name)
    {
        var r = Ioctl(dev, 0xBA00, SessionStruct(name));
        Assert.True(r.Ret == 0, $"create {name}: err {r.Err}");
        Assert.NotEqual(0UL, r.NewHandle);
        return r.NewHandle;
    }

    public ulong RetrieveSession(ulong dev, string name)
    {
        var r = Ioctl(dev, 0xBA01, SessionStruct(name));
        Assert.True(r.Ret == 0, $"retrieve {name}: err {r.Err}");
        return r.NewHandle;
    }

    /// <summary>A real memfd holding <paramref name="text"/> (one page, like the selftest helper).</summary>
    public static unsafe int HostMemfd(string text, long size = 4096)
    {
        int fd = Libc.MemfdCreate("wire-test", LinuxConst.MFD_CLOEXEC);
        Assert.True(fd >= 0);
        Assert.Equal(0, Libc.Ftruncate(fd, size));
        WriteAt(fd, 0, text + "\0");
        return fd;
    }

    public static unsafe void WriteAt(int fd, long offset, string text)
    {
        byte[] b = Encoding.ASCII.GetBytes(text);
        fixed (byte* p = b) Assert.Equal(b.Length, (int)Libc.Pwrite(fd, p, (nuint)b.Length, offset));
    }

    public static unsafe string ReadCString(int fd, int max = 4096)
    {
        var b = new byte[max];
        nint n;
        fixed (byte* p = b) n = Libc.Pread(fd, p, (nuint)max, 0);
        Assert.True(n >= 0);
        int z = Array.IndexOf(b, (byte)0, 0, (int)n);
        return Encoding.ASCII.GetString(b, 0, z < 0 ? (int)n : z);
    }

    public void Dispose()
    {
        if (Fd >= 0) Libc.Close(Fd);
        Fd = -1;
    }
}
