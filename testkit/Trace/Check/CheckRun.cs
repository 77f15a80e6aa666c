using System.Globalization;
using LuoModel.Kernel;
using KernelBoot = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit.Trace;

/// <summary>One pass of <see cref="TraceChecker"/> over the entries in a given order: the model machine, one
/// model process per recorded pid whose fd table mirrors the recorded numbers, and what is known about the
/// contents of preserved memfds (docs/trace-format.md §8).</summary>
internal sealed partial class CheckRun
{
    private readonly TraceFile _trace;
    private readonly List<int> _order;
    private readonly CheckOptions _options;
    private readonly KernelConfig _config;
    private readonly Dictionary<int, Process> _procs = [];
    private readonly Dictionary<Process, ulong> _regions = [];
    /// <summary>Files preserved in this boot under (session name, token), for stage-end content lines.</summary>
    private readonly Dictionary<(string, ulong), OpenFile> _preserved = [];
    /// <summary>Stage-end contents seen in this boot / handed over from the previous boot.</summary>
    private Dictionary<(string, ulong), (long Size, byte[] Hash)> _stageEnd = [];
    private Dictionary<(string, ulong), (long Size, byte[] Hash)> _incoming = [];
    /// <summary>Files handed over whose size and position the model knows (stage-end line, or no fd open at the kexec).</summary>
    private HashSet<(string, ulong)> _stateKnown = [];
    /// <summary>Retrieved model files of this boot and the (session, token) they came from.</summary>
    private readonly Dictionary<OpenFile, (string, ulong)> _retrieved = [];
    private readonly List<string> _notes = [];
    private KernelBoot _kernel;
    private string? _boot;
    private int _checked, _applied, _unknown, _gaps;

    public CheckRun(TraceFile trace, List<int> order, CheckOptions options)
    {
        _trace = trace;
        _order = order;
        _options = options;
        _config = options.Config ?? new KernelConfig { DramBytes = TraceTarget.DramBytes };
        _kernel = KernelBoot.ColdBoot(_config);
    }

    private sealed class Diverged(CheckDivergence d) : Exception(d.What)
    {
        public CheckDivergence Divergence { get; } = d;
    }

    private int _pos;
    private TraceEntry _entry = null!;

    private Diverged Fail(string what, string expected, string observed, string spec) =>
        new(new CheckDivergence(_pos, _entry, what, expected, observed, spec));

    public CheckReport Execute()
    {
        CheckDivergence? div = null;
        for (_pos = 0; _pos < _order.Count; _pos++)
        {
            _entry = _trace.Entries[_order[_pos]];
            try { Step(_entry.Op, _entry.Result); }
            catch (Diverged d)
            {
                div = d.Divergence;
                break;
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // a recording the model cannot follow at all (e.g. calls into a boot that already ended)
                div = new CheckDivergence(_pos, _entry, "the model cannot run this call", "no such state in the model", e.Message, "docs/trace-format.md §8.1");
                break;
            }
        }
        if (_gaps > 0)
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"{_gaps} fd number gap(s) filled: fds created or closed by calls the recorder does not see (pipes, sockets, libc-internal opens); --strict-fds reports them"));
        return new CheckReport(_trace.Entries.Count, _checked, _applied, _unknown, div, _notes);
    }

    private Process Proc(int pid)
    {
        if (_procs.TryGetValue(pid, out var p)) return p;
        p = NewProcess(pid);
        if (_trace.Version >= TraceFormat.RecordedVersion)
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"pid {pid} has no start or fork line: its fds are numbered from an empty table"));
        return p;
    }

    private Process NewProcess(int pid)
    {
        var p = _kernel.CreateProcess();
        ulong region = p.Memory.Map(TraceTarget.RegionBytes, Prot.Read | Prot.Write);
        p.Memory.Protect(region + (2 * UserMemory.PageSize), UserMemory.PageSize, Prot.Read);
        _regions[p] = region;
        _procs[pid] = p;
        return p;
    }

    private static string V(long v) => TraceFormat.Value(v);

    /// <summary>Compares return values (errno included).</summary>
    private void Result(long model, long observed, string spec)
    {
        _checked++;
        if (model != observed) throw Fail("return value", "= " + V(model), "= " + V(observed), spec);
    }

    private void Step(TraceOp op, TraceResult observed)
    {
        switch (op)
        {
            case StartOp s: Start(s); return;
            case ForkOp:
                _applied++;
                if (observed.Value > 0)
                {
                    var child = _kernel.Fork(Proc(op.Pid));
                    _regions[child] = _regions[Proc(op.Pid)];
                    _procs[(int)observed.Value] = child;
                }
                return;
            case ExitOp:
                _applied++;
                if (_procs.Remove(op.Pid, out var gone)) _kernel.Exit(gone);
                return;
            case WaitOp:
                _applied++;
                if (observed.Value > 0 && _procs.Remove((int)observed.Value, out var reaped)) _kernel.Exit(reaped);
                return;
            case StageEndOp se:
                _applied++;
                _notes.Add($"stage end \"{se.Why}\" (pid {op.Pid.ToString(CultureInfo.InvariantCulture)}): preserved memfd contents recorded");
                return;
            case MemfdStateOp m: ApplyState(Proc(op.Pid), m.Fd, observed.Value, observed.Facts!.Pos); _applied++; return;
            case ContentOp c when c.Session is null: RetrievedContent(Proc(op.Pid), c.Fd, observed); return;
            case ContentOp c: StageEndContent(c, observed); return;
            case OpenOp o: Open(op.Pid, o.Path, o.Flags, observed.Value); return;
            case OpenAtOp o: Open(op.Pid, o.Path, o.Flags, observed.Value); return;
            case CloseOp c: Close(Proc(op.Pid), c.Fd, observed.Value); return;
            case CloseRangeOp cr: CloseRange(Proc(op.Pid), cr, observed.Value); return;
            case DupOp d: Dup(Proc(op.Pid), d.Fd, observed.Value, p => _kernel.Dup(p, d.Fd)); return;
            case Dup2Op d:
                Dup(Proc(op.Pid), d.Fd, observed.Value, p => d.Three ? _kernel.Dup3(p, d.Fd, d.To, d.Flags) : _kernel.Dup2(p, d.Fd, d.To));
                return;
            case DupFdOp d:
                Dup(Proc(op.Pid), d.Fd, observed.Value, p => _kernel.Fcntl(p, d.Fd, d.CloseOnExec ? FcntlCmd.F_DUPFD_CLOEXEC : FcntlCmd.F_DUPFD, d.Min));
                return;
            case MemfdCreateOp m:
            {
                var p = Proc(op.Pid);
                long rc = _kernel.MemfdCreate(p, m.Name, m.Flags);
                if (rc >= 0 && observed.Value >= 0) { _checked++; Place(p, (int)rc, (int)observed.Value, "memfd_create(2)"); return; }
                Result(rc, observed.Value, "memfd_create(2) as the model implements it (luo.md §6.1)");
                return;
            }
            case FtruncateOp t: Result(_kernel.Ftruncate(Proc(op.Pid), t.Fd, t.Length), observed.Value, "luo.md §6 (a preserved memfd's size)"); return;
            case SetrlimitBothOp r:
                _applied++;
                if (observed.Value == 0) _kernel.SetrlimitNofile(Proc(op.Pid), r.Soft, r.Hard);
                return;
            case SetrlimitOp r: { var p = Proc(op.Pid); Result(_kernel.SetrlimitNofile(p, r.Soft, p.NofileHard), observed.Value, "setrlimit(2)"); return; }
            case IoctlOp io: Ioctl(Proc(op.Pid), io, observed); return;
            case RebootOp rb: Result(_kernel.Reboot(Proc(op.Pid), rb.Cmd), observed.Value, "luo.md §4.1"); return;
            case KexecOp: Kexec("kexec()"); return;
            case WriteOp or PreadOp or LseekOp or AddSealsOp: Memfd(Proc(op.Pid), op, observed); return;
            default:
                throw Fail("unsupported call", "a call of a recording", TraceFormat.Call(op with { Time = null }),
                    "docs/trace-format.md §7 (model-only calls and coldboot() belong to luo replay)");
        }
    }

    private void Start(StartOp s)
    {
        _applied++;
        if (_boot is not null && s.Boot != _boot) Kexec($"boot id \"{_boot}\" → \"{s.Boot}\"");
        _boot = s.Boot;
        if (_procs.TryGetValue(s.Pid, out var old))
        {
            // exec: close-on-exec fds are gone, the others (an LUO device opened without O_CLOEXEC) stay
            foreach (int fd in old.OpenFds.ToList())
                if (old.IsCloseOnExec(fd) || !s.Fds.Contains(fd)) _kernel.Close(old, fd);
            foreach (int fd in s.Fds)
                if (fd <= MaxFd && old.FileOf(fd) is null) PlaceholderAt(old, fd);
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"pid {s.Pid} started again at line {_entry.Line} (exec): its close-on-exec fds are closed"));
            return;
        }
        var p = NewProcess(s.Pid);
        _kernel.SetrlimitNofile(p, s.NofileSoft == 0 ? p.NofileSoft : s.NofileSoft, s.NofileHard == 0 ? p.NofileHard : s.NofileHard);
        int top = s.Fds.Count == 0 ? -1 : Math.Min(s.Fds.Max(), MaxFd);
        if (s.Fds.Count > 0 && s.Fds.Max() > MaxFd)
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"line {_entry.Line}: inherited fds above {MaxFd} are not mirrored"));
        for (int fd = 0; fd <= top; fd++)
            if (_kernel.Open(p, "/dev/null", OpenFlags.O_RDONLY) < 0) break;
        for (int fd = 0; fd <= top; fd++)
            if (!s.Fds.Contains(fd)) _kernel.Close(p, fd);
    }

    /// <summary>A kexec between the boots of two start lines: reboot(KEXEC) from a helper process, then the jump.</summary>
    private void Kexec(string why)
    {
        if (_kernel.State != KernelState.Rebooting)
        {
            var helper = _kernel.CreateProcess();
            long rc = _kernel.Reboot(helper, KernelBoot.LINUX_REBOOT_CMD_KEXEC);
            if (rc < 0)
                throw Fail("kexec", $"reboot(LINUX_REBOOT_CMD_KEXEC) = {V(rc)}: the model refuses to serialize", $"the machine kexec'ed ({why})", "luo.md §4 (reboot path)");
        }
        _stateKnown = [.. _preserved.Where(kv => _stageEnd.ContainsKey(kv.Key)
            || !_procs.Values.Any(p => p.OpenFds.Any(fd => ReferenceEquals(p.FileOf(fd), kv.Value)))).Select(kv => kv.Key)];
        _kernel = _kernel.Kexec();
        if (_kernel.Panicked)
            throw Fail("kexec", $"the next kernel panics at boot ({_kernel.Outcome.PanicReason})", $"the machine booted ({why})", "luo.md §5.7");
        _procs.Clear();
        _regions.Clear();
        _preserved.Clear();
        _retrieved.Clear();
        _incoming = _stageEnd;
        _stageEnd = [];
        _notes.Add(string.Create(CultureInfo.InvariantCulture, $"kexec before line {_entry.Line} ({why}); model boot {_kernel.BootNumber}"));
    }

    private static bool IsDevice(string path) =>
        path == KernelBoot.LiveupdatePath || (!path.StartsWith('/') && Path.GetFileName(path) == "liveupdate")
        || (path.StartsWith('/') && Path.GetFullPath(path) == KernelBoot.LiveupdatePath);

    private void Open(int pid, string path, int flags, long observed)
    {
        var p = Proc(pid);
        if (!IsDevice(path))
        {
            _applied++;
            if (observed >= 0) Placeholder(p, (int)observed, flags);
            return;
        }
        long rc = _kernel.Open(p, KernelBoot.LiveupdatePath, flags);
        if (rc >= 0 && observed >= 0) { _checked++; Place(p, (int)rc, (int)observed, "luo.md §3.1"); return; }
        Result(rc, observed, "luo.md §3.1 (device open)");
    }

    private void Close(Process p, int fd, long observed)
    {
        bool luo = IsLuoFile(p.FileOf(fd));
        long rc = _kernel.Close(p, fd);
        if (luo) Result(rc, observed, "luo.md §3.10 (close)");
        else _applied++;
    }

    private void CloseRange(Process p, CloseRangeOp cr, long observed)
    {
        _applied++;
        if (observed != 0 || (cr.Flags & 4) != 0) return;
        foreach (int fd in p.OpenFds.Where(f => (uint)f >= cr.First && (uint)f <= cr.Last).ToList()) _kernel.Close(p, fd);
    }

    private void Dup(Process p, int fd, long observed, Func<Process, long> call)
    {
        long rc = call(p);
        if (rc >= 0 && observed >= 0) { _checked++; Place(p, (int)rc, (int)observed, "dup(2)"); return; }
        if (!IsLuoFile(p.FileOf(fd)) && observed < 0) { _applied++; return; }
        Result(rc, observed, "dup(2) of an LUO fd (luo.md §3.10)");
    }

    /// <summary>Highest fd number the checker mirrors with placeholders (bounds the work a hostile trace causes).</summary>
    internal const int MaxFd = 65535;

    internal static bool IsLuoFile(OpenFile? f) => f is DeviceFile or SessionFile or MemfdFile;
}
