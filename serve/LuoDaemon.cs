using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Serve.Native;

namespace LuoModel.Serve;

/// <summary>Settings of one <see cref="LuoDaemon"/>.</summary>
public sealed record DaemonOptions
{
    /// <summary>Environment variable naming the shim socket (selftest-shim.md §5).</summary>
    public const string SocketEnvironmentVariable = "LUOSHIM_SOCKET";

    /// <summary>Path of the shim socket ('@' prefix = abstract name).</summary>
    public required string SocketPath { get; init; }

    /// <summary>Path of the control socket; default <see cref="SocketPath"/> + ".ctl".</summary>
    public string? ControlPath { get; init; }

    /// <summary>Settings of the first boot (variants set later apply from the next boot).</summary>
    public KernelConfig Config { get; init; } = new() { DramBytes = 1UL << 30 };

    /// <summary>Every log line is also written here (luo serve: stderr).</summary>
    public TextWriter? LogEcho { get; init; }

    /// <summary>Also log every request (not only connections, errors and control operations).</summary>
    public bool Verbose { get; init; }

    /// <summary>The effective control socket path.</summary>
    public string EffectiveControlPath => ControlPath ?? SocketPath + ".ctl";
}

/// <summary>
/// <c>luo serve</c>: one daemon models one machine (selftest-shim.md §2). It hosts one <see cref="Kernel"/> (and
/// its arena) at a time and answers the LD_PRELOAD shim over an AF_UNIX SOCK_SEQPACKET socket: one model
/// <see cref="Process"/> per connection, whose model fds mirror the placeholder fds of the real process, so
/// the model's own open-file-description reference counts decide every release (§4.3). A second socket takes
/// control operations (KEXEC, RESET, STATUS, SET_VARIANT, INJECT_FAULT, LOG, SHUTDOWN, §7). All model work runs
/// on the daemon's single loop thread.
/// </summary>
public sealed partial class LuoDaemon : IDisposable
{
    private const int MaxMessage = 256 * 1024;
    private const int MaxLogLines = 20000;

    private readonly DaemonOptions _options;
    private readonly Dictionary<int, Connection> _conns = [];
    private readonly List<string> _log = [];
    private readonly Lock _logLock = new();
    private readonly byte[] _rx = new byte[MaxMessage];
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private int _listenFd = -1, _controlFd = -1, _wakeFd = -1;
    private Thread? _thread;
    private volatile bool _stop;
    private bool _draining;

    /// <summary>Creates a daemon (nothing is bound until <see cref="Start"/> or <see cref="Run"/>).</summary>
    public LuoDaemon(DaemonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _config = options.Config;
        _variants = new VariantSettings(options.Config);
        _kernel = Kernel.Kernel.ColdBoot(_config);
        _generation = 1;
    }

    /// <summary>The shim socket path.</summary>
    public string SocketPath => _options.SocketPath;

    /// <summary>The control socket path.</summary>
    public string ControlPath => _options.EffectiveControlPath;

    /// <summary>A copy of the log.</summary>
    public IReadOnlyList<string> LogLines
    {
        get { lock (_logLock) return [.. _log]; }
    }

    /// <summary>Binds both sockets (so clients can connect as soon as this returns); −errno or 0.</summary>
    public int Bind()
    {
        if (_listenFd >= 0) return 0;
        RaiseFileLimit();
        int fd = Seqpacket.Listen(_options.SocketPath);
        if (fd < 0) return fd;
        int cfd = Seqpacket.Listen(_options.EffectiveControlPath);
        if (cfd < 0)
        {
            Libc.Close(fd);
            return cfd;
        }
        int wake = Libc.Eventfd(0, LinuxConst.EFD_CLOEXEC | LinuxConst.EFD_NONBLOCK);
        if (wake < 0)
        {
            int e = Libc.Errno;
            Libc.Close(fd);
            Libc.Close(cfd);
            return -e;
        }
        _listenFd = fd;
        _controlFd = cfd;
        _wakeFd = wake;
        Log($"listening on {_options.SocketPath} (control {_options.EffectiveControlPath}); boot {_generation}");
        return 0;
    }

    /// <summary>Binds and runs the loop on a background thread. Throws when the sockets cannot be bound.</summary>
    public void Start()
    {
        int rc = Bind();
        if (rc < 0) throw new IOException($"cannot listen on {_options.SocketPath}: errno {-rc}");
        _thread = new Thread(Loop) { IsBackground = true, Name = "luo serve" };
        _thread.Start();
    }

    /// <summary>Binds and runs the loop on the calling thread until <see cref="Stop"/> or a SHUTDOWN request;
    /// −errno when the sockets cannot be bound, else 0.</summary>
    public int Run()
    {
        int rc = Bind();
        if (rc < 0) return rc;
        Loop();
        return 0;
    }

    /// <summary>Asks the loop to finish (thread-safe).</summary>
    public void Stop()
    {
        _stop = true;
        Wake();
    }

    private unsafe void Wake()
    {
        if (_wakeFd < 0) return;
        ulong one = 1;
        Libc.Write(_wakeFd, (byte*)&one, 8);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Stop();
        _thread?.Join();
        _thread = null;
        foreach (var c in _conns.Values.ToList()) Drop(c, "daemon stopped");
        CloseListeners();
        try { _kernel.ReleaseHostBackings(); }
        catch (InvalidOperationException) { }
    }

    private void CloseListeners()
    {
        foreach (int fd in new[] { _listenFd, _controlFd, _wakeFd })
            if (fd >= 0) Libc.Close(fd);
        if (_listenFd >= 0 && _options.SocketPath[0] != '@') Libc.Unlink(_options.SocketPath);
        if (_controlFd >= 0 && _options.EffectiveControlPath[0] != '@') Libc.Unlink(_options.EffectiveControlPath);
        _listenFd = _controlFd = _wakeFd = -1;
    }

    private static unsafe void RaiseFileLimit()
    {
        ulong* rl = stackalloc ulong[2];
        if (Libc.Getrlimit(LinuxConst.RLIMIT_NOFILE, rl) == 0 && rl[0] < rl[1])
        {
            rl[0] = rl[1];
            Libc.Setrlimit(LinuxConst.RLIMIT_NOFILE, rl);
        }
    }

    /// <summary>Appends a line to the log (thread-safe).</summary>
    internal void Log(string line)
    {
        string stamped = string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,9:F3}] {line}");
        lock (_logLock)
        {
            if (_log.Count >= MaxLogLines) _log.RemoveRange(0, MaxLogLines / 10);
            _log.Add(stamped);
        }
        _options.LogEcho?.WriteLine(stamped);
    }

    private unsafe void Loop()
    {
        var pfds = new List<PollFd>();
        var order = new List<Connection?>();
        while (!_stop)
        {
            pfds.Clear();
            order.Clear();
            Add(_wakeFd, null);
            Add(_listenFd, null);
            Add(_controlFd, null);
            foreach (var c in _conns.Values) Add(c.Fd, c);
            var arr = pfds.ToArray();
            int n;
            fixed (PollFd* p = arr) n = Libc.Poll(p, (nuint)arr.Length, -1);
            if (n < 0)
            {
                if (Libc.Errno == LinuxConst.EINTR) continue;
                Log($"poll failed: errno {Libc.Errno}");
                break;
            }
            if (arr[0].Revents != 0)
            {
                ulong v;
                Libc.Read(_wakeFd, (byte*)&v, 8);
            }
            if (_stop) break;
            if (arr[1].Revents != 0) AcceptAll(_listenFd, control: false);
            if (arr[2].Revents != 0) AcceptAll(_controlFd, control: true);
            for (int i = 3; i < arr.Length; i++)
            {
                var c = order[i];
                if (c is null || arr[i].Revents == 0 || !_conns.ContainsKey(c.Fd)) continue;
                ServiceOne(c);
            }
        }
        Log("loop stopped");

        void Add(int fd, Connection? c)
        {
            pfds.Add(new PollFd { Fd = fd, Events = LinuxConst.POLLIN | LinuxConst.POLLRDHUP });
            order.Add(c);
        }
    }

    private void AcceptAll(int listenFd, bool control)
    {
        while (true)
        {
            int fd = Seqpacket.Accept(listenFd);
            if (fd < 0) return;
            Seqpacket.SetBuffers(fd, 1 << 20);
            Seqpacket.PeerCredentials(fd, out int pid, out uint uid);
            uint me = Libc.Geteuid();
            var c = new Connection(fd, pid, uid, control, _generation) { Rejected = uid != me && uid != 0 };
            _conns[fd] = c;
            if (c.Rejected) Log($"{c}: refused (uid {uid}, daemon uid {me})");
            else if (control || _options.Verbose) Log($"{c}: connected");
        }
    }

    /// <summary>Reads and handles one message of <paramref name="c"/> (or its EOF).</summary>
    private void ServiceOne(Connection c)
    {
        var r = Seqpacket.Receive(c.Fd, _rx);
        if (r.Length < 0)
        {
            if (r.Error == LinuxConst.EAGAIN) return;
            Drop(c, $"receive failed (errno {r.Error})");
            return;
        }
        if (r.Eof)
        {
            Drop(c, "exited");
            return;
        }
        int fd = r.Fd;
        try
        {
            if (r.Truncated || r.ExtraFds > 0)
            {
                RequestHeader.TryRead(_rx.AsSpan(0, r.Length), out _, out uint s);
                Log($"{c}: malformed message (truncated {r.Truncated}, {r.ExtraFds} extra fds)");
                Reply(c, s, -1, WireErrno.EPROTO);
                return;
            }
            Dispatch(c, _rx.AsSpan(0, r.Length), ref fd);
        }
#pragma warning disable CA1031 // the daemon's boundary: a model bug answers one client with EIO, never stops the machine
        catch (Exception ex)
        {
            Log($"{c}: internal error: {ex}");
            RequestHeader.TryRead(_rx.AsSpan(0, r.Length), out _, out uint seq);
            if (_conns.ContainsKey(c.Fd)) Reply(c, seq, -1, WireErrno.EIO);
        }
#pragma warning restore CA1031
        finally
        {
            if (fd >= 0) Libc.Close(fd);
        }
    }

    /// <summary>Processes every connection whose peer has hung up (selftest-shim.md §4.3 EOF-ordering rule):
    /// its queued messages first, then its EOF. The kernel closes a dying process's files before its parent
    /// can see it dead, so the daemon applies this before every request (one zero-timeout poll).</summary>
    private unsafe void DrainHangups(Connection? except)
    {
        if (_draining || _conns.Count == 0) return;
        _draining = true;
        try
        {
            var list = _conns.Values.Where(c => c != except && !c.Control).ToList();
            if (list.Count == 0) return;
            var pfds = new PollFd[list.Count];
            for (int i = 0; i < list.Count; i++) pfds[i] = new PollFd { Fd = list[i].Fd, Events = LinuxConst.POLLIN | LinuxConst.POLLRDHUP };
            int n;
            fixed (PollFd* p = pfds) n = Libc.Poll(p, (nuint)pfds.Length, 0);
            if (n <= 0) return;
            const short Hangup = LinuxConst.POLLHUP | LinuxConst.POLLRDHUP | LinuxConst.POLLERR | LinuxConst.POLLNVAL;
            for (int i = 0; i < list.Count; i++)
            {
                var c = list[i];
                if ((pfds[i].Revents & Hangup) == 0) continue;
                for (int guard = 0; guard < 64 && _conns.ContainsKey(c.Fd); guard++) ServiceOne(c);
                if (_conns.ContainsKey(c.Fd)) Drop(c, "exited");
            }
        }
        finally
        {
            _draining = false;
        }
    }

    /// <summary>Closes a connection; on the current boot its model process exits, dropping every reference
    /// it held (exactly what the kernel does when a process dies).</summary>
    private void Drop(Connection c, string why)
    {
        if (!_conns.Remove(c.Fd)) return;
        Libc.Close(c.Fd);
        if (c.Process is { } p && c.Generation == _generation && _kernel.State == KernelState.Running)
        {
            int held = c.FdCount;
            try { _kernel.Exit(p); }
            catch (InvalidOperationException ex) { Log($"{c}: exit failed in the model: {ex.Message}"); }
            if (held > 0 || _options.Verbose) Log($"{c}: {why}; released {held} fd(s)");
        }
        else if (c.Control || _options.Verbose || c.Generation != _generation) Log($"{c}: {why}");
    }

    private void Reply(Connection c, uint seq, int ret, int err, ulong newHandle = 0, ReadOnlySpan<byte> output = default, int passFd = -1)
    {
        Span<byte> head = stackalloc byte[ReplyHeader.Size];
        new ReplyHeader(seq, ret, err, newHandle, (uint)output.Length, passFd >= 0 ? ReplyHeader.FlagFd : 0).WriteTo(head);
        int e = Seqpacket.Send(c.Fd, head, output, passFd);
        if (e != 0) Drop(c, $"reply failed (errno {e})");
    }
}
