using LuoModel.Kernel;

namespace LuoModel.Serve;

/// <summary>
/// One accepted socket: a test process (its model <see cref="Kernel.Process"/> and the model fds behind its
/// placeholders, grouped by handle) or a control client.
/// </summary>
internal sealed class Connection(int fd, int pid, uint uid, bool control, int generation)
{
    private readonly Dictionary<ulong, Stack<int>> _fds = [];
    private readonly HashSet<int> _modelFds = [];

    /// <summary>Socket fd in the daemon.</summary>
    public int Fd { get; } = fd;
    /// <summary>SO_PEERCRED pid.</summary>
    public int Pid { get; } = pid;
    /// <summary>SO_PEERCRED uid.</summary>
    public uint Uid { get; } = uid;
    /// <summary>A control-socket client.</summary>
    public bool Control { get; } = control;
    /// <summary>The daemon boot generation this connection belongs to (stale after KEXEC/RESET).</summary>
    public int Generation { get; } = generation;
    /// <summary>Peer credentials were refused.</summary>
    public bool Rejected { get; init; }
    /// <summary>HELLO was received (a second one is a protocol error).</summary>
    public bool Greeted { get; set; }
    /// <summary>The model process (created at the first request, or adopted from a fork token).</summary>
    public Process? Process { get; set; }

    /// <summary>Model fds held, over all handles.</summary>
    public int FdCount { get; private set; }

    /// <summary>Handles with at least one fd.</summary>
    public IEnumerable<ulong> Handles => _fds.Keys;

    /// <summary>Number of fds referring to <paramref name="handle"/>.</summary>
    public int CountOf(ulong handle) => _fds.TryGetValue(handle, out var s) ? s.Count : 0;

    /// <summary>Records a model fd referring to <paramref name="handle"/>.</summary>
    public void AddFd(ulong handle, int fd)
    {
        if (!_fds.TryGetValue(handle, out var s)) _fds[handle] = s = new Stack<int>();
        s.Push(fd);
        _modelFds.Add(fd);
        FdCount++;
    }

    /// <summary>Whether <paramref name="fd"/> is a model fd this connection already accounts for.</summary>
    public bool Tracks(int fd) => _modelFds.Contains(fd);

    /// <summary>Any model fd referring to <paramref name="handle"/>.</summary>
    public bool TryPeekFd(ulong handle, out int fd)
    {
        fd = -1;
        return _fds.TryGetValue(handle, out var s) && s.TryPeek(out fd);
    }

    /// <summary>Removes one model fd referring to <paramref name="handle"/>.</summary>
    public bool TryTakeFd(ulong handle, out int fd)
    {
        fd = -1;
        if (!_fds.TryGetValue(handle, out var s) || !s.TryPop(out fd)) return false;
        if (s.Count == 0) _fds.Remove(handle);
        _modelFds.Remove(fd);
        FdCount--;
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => Control ? $"control pid {Pid}" : $"pid {Pid}";
}
