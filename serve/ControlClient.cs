using System.Text;
using LuoModel.Serve.Native;

namespace LuoModel.Serve;

/// <summary>Answer of a control operation: ret/err as on the wire, the boot generation after the operation,
/// and the text payload.</summary>
public sealed record ControlReply(int Ret, int Err, int Generation, string Text)
{
    /// <summary>ret ≥ 0.</summary>
    public bool Ok => Ret >= 0;

    /// <summary>The value of a "key value" line of <see cref="Text"/>, or null.</summary>
    public string? Field(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        foreach (string line in Text.Split('\n'))
            if (line.StartsWith(key + " ", StringComparison.Ordinal)) return line[(key.Length + 1)..];
            else if (line == key) return "";
        return null;
    }
}

/// <summary>A client of the daemon's control socket (selftest-shim.md §7): KEXEC, RESET, STATUS,
/// SET_VARIANT, INJECT_FAULT, LOG, SHUTDOWN.</summary>
public sealed class ControlClient : IDisposable
{
    private readonly byte[] _rx = new byte[256 * 1024];
    private int _fd;
    private uint _seq;

    private ControlClient(int fd) => _fd = fd;

    /// <summary>Connects to <paramref name="controlPath"/>; throws <see cref="IOException"/> on failure.</summary>
    public static ControlClient Connect(string controlPath)
    {
        ArgumentNullException.ThrowIfNull(controlPath);
        int fd = Seqpacket.Connect(controlPath);
        if (fd < 0) throw new IOException($"cannot connect to {controlPath}: errno {-fd}");
        Seqpacket.SetBuffers(fd, 1 << 20);
        return new ControlClient(fd);
    }

    /// <summary>Sends one operation and waits (up to <paramref name="timeout"/>, default 60 s) for its reply.</summary>
    public unsafe ControlReply Send(ShimOp op, string argument = "", ulong handle = 0, TimeSpan? timeout = null)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        byte[] body = Encoding.UTF8.GetBytes(argument ?? "");
        Span<byte> head = stackalloc byte[RequestHeader.Size];
        uint seq = ++_seq;
        new RequestHeader(op, seq, Libc.Getpid(), handle, 0, (uint)body.Length).WriteTo(head);
        int e = Seqpacket.Send(_fd, head, body, -1, dontWait: false);
        if (e != 0) throw new IOException($"control {op}: send failed (errno {e})");
        var pfd = new PollFd { Fd = _fd, Events = LinuxConst.POLLIN };
        int ms = (int)(timeout ?? TimeSpan.FromSeconds(60)).TotalMilliseconds;
        if (Libc.Poll(&pfd, 1, ms) <= 0) throw new IOException($"control {op}: no reply within {ms} ms");
        var r = Seqpacket.Receive(_fd, _rx, dontWait: false);
        if (r.Fd >= 0) Libc.Close(r.Fd);
        if (r.Length < ReplyHeader.Size || !ReplyHeader.TryRead(_rx.AsSpan(0, r.Length), out var h))
            throw new IOException($"control {op}: bad or missing reply ({r.Length} bytes, errno {r.Error})");
        int outLen = (int)Math.Min(h.OutLength, (uint)(r.Length - ReplyHeader.Size));
        return new ControlReply(h.Ret, h.Err, (int)h.NewHandle, Encoding.UTF8.GetString(_rx, ReplyHeader.Size, outLen));
    }

    /// <summary>KEXEC.</summary>
    public ControlReply Kexec() => Send(ShimOp.Kexec);
    /// <summary>RESET.</summary>
    public ControlReply Reset() => Send(ShimOp.Reset);
    /// <summary>STATUS.</summary>
    public ControlReply Status() => Send(ShimOp.Status);
    /// <summary>SET_VARIANT with "name=value" lines.</summary>
    public ControlReply SetVariant(string settings) => Send(ShimOp.SetVariant, settings);
    /// <summary>INJECT_FAULT.</summary>
    public ControlReply InjectFault(string rule) => Send(ShimOp.InjectFault, rule);
    /// <summary>The daemon log from line <paramref name="from"/>.</summary>
    public ControlReply Log(int from = 0) => Send(ShimOp.Log, "", (ulong)Math.Max(0, from));
    /// <summary>SHUTDOWN.</summary>
    public ControlReply Shutdown() => Send(ShimOp.Shutdown);

    /// <inheritdoc/>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Libc.Close(fd);
    }
}
