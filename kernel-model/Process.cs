namespace LuoModel.Kernel;

/// <summary>One slot of a file descriptor table.</summary>
/// <param name="File">The open file description (null while the number is only reserved).</param>
/// <param name="CloseOnExec">FD_CLOEXEC.</param>
public readonly record struct FdEntry(OpenFile? File, bool CloseOnExec);

/// <summary>
/// A process: pid, file descriptor table (fd → open file description + close-on-exec), user memory,
/// RLIMIT_NOFILE and session id. Created with <see cref="Kernel.CreateProcess"/> or <see cref="Kernel.Fork"/>.
/// </summary>
/// <remarks>
/// Several threads may call syscalls with the same process: like the threads of one Linux process they share
/// the fd table, which is guarded by files_struct.file_lock (a spinlock: never a scheduling point). A thread
/// must not map or unmap user memory while another thread of the process runs a syscall (mmap_lock is not
/// modelled); reads and writes of mapped pages may overlap.
/// </remarks>
public sealed class Process
{
    private readonly FdTable _fds = new();
    private readonly Lock _fileLock = new(); // files_struct.file_lock
    private int _lowFree; // every number below it is in the table (installed or reserved)

    internal Process(Kernel kernel, int pid, UserMemory memory, ulong nofileSoft, ulong nofileHard)
    {
        Kernel = kernel;
        Pid = pid;
        Memory = memory;
        NofileSoft = nofileSoft;
        NofileHard = nofileHard;
        Sid = pid;
    }

    /// <summary>The kernel the process runs on.</summary>
    public Kernel Kernel { get; }
    /// <summary>Process id.</summary>
    public int Pid { get; }
    /// <summary>Session id (setsid).</summary>
    public int Sid { get; internal set; }
    /// <summary>User address space.</summary>
    public UserMemory Memory { get; }
    /// <summary>RLIMIT_NOFILE soft limit.</summary>
    public ulong NofileSoft { get; internal set; }
    /// <summary>RLIMIT_NOFILE hard limit.</summary>
    public ulong NofileHard { get; internal set; }
    /// <summary>CAP_SYS_RESOURCE (raising the hard limit); true by default (tests run as root).</summary>
    public bool Privileged { get; set; } = true;
    /// <summary>True after exit.</summary>
    public bool Exited { get; internal set; }

    /// <summary>Open fds in ascending order (reserved slots excluded); a copy.</summary>
    public IEnumerable<int> OpenFds
    {
        get
        {
            lock (_fileLock) return _fds.Where(kv => kv.Value.File is not null).Select(kv => kv.Key).ToList();
        }
    }

    /// <summary>Open fd count.</summary>
    public int FdCount
    {
        get
        {
            lock (_fileLock) return _fds.Count(kv => kv.Value.File is not null);
        }
    }

    /// <summary>The description behind <paramref name="fd"/> or null (no reference taken: only for a thread that
    /// knows no other thread closes it).</summary>
    public OpenFile? FileOf(int fd)
    {
        lock (_fileLock) return _fds.TryGetValue(fd, out var e) ? e.File : null;
    }

    /// <summary>fget(): the description behind <paramref name="fd"/> with a reference taken under file_lock (so a
    /// concurrent close cannot release it while the caller uses it), or null. The caller puts it.</summary>
    internal OpenFile? GetFile(int fd)
    {
        lock (_fileLock)
        {
            if (!_fds.TryGetValue(fd, out var e) || e.File is null) return null;
            e.File.Get();
            return e.File;
        }
    }

    /// <summary>FD_CLOEXEC of an open fd (false when not open).</summary>
    public bool IsCloseOnExec(int fd)
    {
        lock (_fileLock) return _fds.TryGetValue(fd, out var e) && e.File is not null && e.CloseOnExec;
    }

    /// <summary>What /proc/PID/fd/N links to, or null.</summary>
    public string? FdPath(int fd) => FileOf(fd)?.PathName;

    /// <summary>get_unused_fd_flags(): lowest free number ≥ <paramref name="min"/> below the soft limit,
    /// reserved (not visible); -1 = EMFILE.</summary>
    internal int Reserve(int min, bool cloexec)
    {
        lock (_fileLock)
        {
            int fd = Math.Max(min, _lowFree);
            while (_fds.ContainsKey(fd)) fd++;
            if ((ulong)fd >= NofileSoft) return -1;
            _fds[fd] = new FdEntry(null, cloexec);
            if (min <= _lowFree) _lowFree = fd + 1; // [0, fd] is now fully in use
            return fd;
        }
    }

    /// <summary>put_unused_fd().</summary>
    internal void Unreserve(int fd)
    {
        lock (_fileLock)
            if (_fds.TryGetValue(fd, out var e) && e.File is null && _fds.Remove(fd)) _lowFree = Math.Min(_lowFree, fd);
    }

    /// <summary>fd_install() into a reserved slot (takes over the caller's reference).</summary>
    internal void Install(int fd, OpenFile file)
    {
        lock (_fileLock)
        {
            var e = _fds[fd];
            if (e.File is not null) throw new InvalidOperationException($"fd {fd} already installed");
            _fds[fd] = e with { File = file };
        }
    }

    /// <summary>Replaces or sets an entry (dup2/dup3); returns the file previously there.</summary>
    internal OpenFile? Replace(int fd, OpenFile file, bool cloexec)
    {
        lock (_fileLock)
        {
            OpenFile? old = _fds.TryGetValue(fd, out var e) ? e.File : null;
            _fds[fd] = new FdEntry(file, cloexec);
            return old;
        }
    }

    /// <summary>Removes an installed fd; returns its file or null.</summary>
    internal OpenFile? Remove(int fd)
    {
        lock (_fileLock)
        {
            if (!_fds.TryGetValue(fd, out var e) || e.File is null) return null;
            _fds.Remove(fd);
            _lowFree = Math.Min(_lowFree, fd);
            return e.File;
        }
    }

    internal void SetCloseOnExec(int fd, bool value)
    {
        lock (_fileLock)
            if (_fds.TryGetValue(fd, out var e) && e.File is not null) _fds[fd] = e with { CloseOnExec = value };
    }

    /// <summary>dup_fd() for fork: the installed entries, each file referenced, copied under file_lock.</summary>
    internal List<KeyValuePair<int, FdEntry>> TakeEntries()
    {
        lock (_fileLock)
        {
            var list = _fds.Where(kv => kv.Value.File is not null).ToList();
            foreach (var kv in list) kv.Value.File!.Get();
            return list;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"pid {Pid}";
}
