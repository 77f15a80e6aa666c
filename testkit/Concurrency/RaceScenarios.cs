using System.Globalization;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Testkit.Trace;
using KernelBoot = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit.Concurrency;

/// <summary>The machine a race runs on: a trace target (one process shared by every task, like threads), named
/// fds made by the setup, and one user buffer per task.</summary>
public sealed class RaceWorld
{
    internal RaceWorld(TraceTarget target, int tasks)
    {
        Target = target;
        Buffers = UserCalls.MapBuffers(target.Process, tasks);
        TaskFd = [.. Enumerable.Repeat(-1, tasks)];
    }

    /// <summary>Per task: the fd its last open/create step got (-1 = none).</summary>
    public int[] TaskFd { get; }

    private Process? _holder;

    /// <summary>A second process standing for "the closing thread still holds the description" between the two
    /// atomic parts of a close (fd removed, then the release) in serial orders.</summary>
    public Process Holder => _holder ??= Target.Kernel.CreateProcess();

    /// <summary>The machine.</summary>
    public TraceTarget Target { get; private set; }
    /// <summary>fds made by the setup, by name.</summary>
    public Dictionary<string, int> Fds { get; } = [];
    /// <summary>One user buffer per task.</summary>
    public ulong[] Buffers { get; private set; }

    /// <summary>Kexecs the machine (after a successful reboot) and maps fresh buffers in the new process.</summary>
    internal void Kexec()
    {
        long rc = Target.Execute(new KexecOp()).Value;
        if (rc != 0) throw new InvalidOperationException($"kexec = {rc}");
        Fds.Clear();
        _holder = null;
        Buffers = UserCalls.MapBuffers(Target.Process, Buffers.Length);
    }

    internal int Must(long rc, string what) => rc >= 0 ? (int)rc : throw new InvalidOperationException($"setup {what} = {rc}");
}

/// <summary>One step of a race task: a syscall on the world; the result is compared with serial executions.</summary>
/// <param name="Name">Label for reports.</param>
/// <param name="Run">Runs the call as task <c>i</c> (its buffer) and returns the result; fd numbers must be
/// normalised away (they are not linearisable: fd reservation is its own atomic step).</param>
/// <param name="SerialParts">When the call is not one atomic step in the kernel, the atomic parts the serial
/// orders interleave instead of <paramref name="Run"/> (the step's result is the last part's).</param>
public sealed record RaceStep(string Name, Func<RaceWorld, int, long> Run, IReadOnlyList<Func<RaceWorld, int, long>>? SerialParts = null)
{
    /// <summary>The atomic parts of the step for the serial orders.</summary>
    public IReadOnlyList<Func<RaceWorld, int, long>> Parts => SerialParts ?? [Run];
}

/// <summary>A small race: setup, then concurrent tasks, each a sequence of steps.</summary>
/// <param name="Name">Scenario name.</param>
/// <param name="Setup">Builds a fresh world (serially, no scheduler).</param>
/// <param name="Tasks">Per task, its steps in program order.</param>
public sealed record RaceScenario(string Name, Func<int, RaceWorld> Setup, IReadOnlyList<IReadOnlyList<RaceStep>> Tasks);

/// <summary>The races of issue 9 §3 that the interleaving explorer covers.</summary>
public static class RaceScenarios
{
    private const ulong FirstToken = 1, SecondToken = 2, RetrievedToken = 7;

    private static long Ok(long rc) => rc >= 0 ? 0 : rc; // an fd number becomes 0

    private static RaceWorld Boot(int tasks) => new(TraceTarget.ColdBoot(), tasks);

    private static RaceWorld WithDevice(int tasks)
    {
        var w = Boot(tasks);
        var t = w.Target;
        w.Fds["dev"] = w.Must(LuoSyscalls.OpenDevice(t.Kernel, t.Process), "open");
        return w;
    }

    private static RaceStep Open() => new("open", (w, i) =>
    {
        long rc = LuoSyscalls.OpenDevice(w.Target.Kernel, w.Target.Process);
        if (rc >= 0) w.TaskFd[i] = (int)rc;
        return Ok(rc);
    });

    private static RaceStep CloseOwn() => new("close-own", (w, i) =>
        w.TaskFd[i] < 0 ? -(long)Kho.Errno.EBADF : w.Target.Kernel.Close(w.Target.Process, w.TaskFd[i]));

    private static RaceStep Create(string name) => new($"create({name})", (w, i) =>
        UserCalls.CreateSession(w.Target.Kernel, w.Target.Process, w.Buffers[i], w.Fds["dev"], name, out _));

    private static RaceStep Retrieve(string name) => new($"retrieve({name})", (w, i) =>
        UserCalls.RetrieveSession(w.Target.Kernel, w.Target.Process, w.Buffers[i], w.Fds["dev"], name, out _));

    private static RaceStep Preserve(string session, string file, ulong token) => new($"preserve({session},{file},{token})", (w, i) =>
        UserCalls.PreserveFd(w.Target.Kernel, w.Target.Process, w.Buffers[i], w.Fds[session], w.Fds[file], token));

    private static RaceStep RetrieveFd(string session, ulong token) => new($"retrieve_fd({session},{token})", (w, i) =>
        UserCalls.RetrieveFd(w.Target.Kernel, w.Target.Process, w.Buffers[i], w.Fds[session], token, out _));

    private static RaceStep Finish(string session) => new($"finish({session})", (w, i) =>
        UserCalls.Finish(w.Target.Kernel, w.Target.Process, w.Buffers[i], w.Fds[session]));

    /// <summary>close(): in the kernel two atomic parts — the fd leaves the table (file_lock), then the last
    /// reference's release runs (under serialize_lock for a session) — and another thread may run between them.</summary>
    private static RaceStep Close(string fd) => new($"close({fd})", (w, i) => w.Target.Kernel.Close(w.Target.Process, w.Fds[fd]),
    [
        (w, i) =>
        {
            var k = w.Target.Kernel;
            long h = k.PassFd(w.Target.Process, w.Fds[fd], w.Holder);
            w.TaskFd[i] = (int)h;
            return h < 0 ? h : k.Close(w.Target.Process, w.Fds[fd]);
        },
        (w, i) => w.TaskFd[i] < 0 ? w.TaskFd[i] : w.Target.Kernel.Close(w.Holder, w.TaskFd[i]),
    ]);

    private static RaceStep Reboot() => new("reboot", (w, i) => w.Target.Kernel.Reboot(w.Target.Process, KernelBoot.LINUX_REBOOT_CMD_KEXEC));

    /// <summary>Every scenario.</summary>
    public static IReadOnlyList<RaceScenario> All { get; } =
    [
        // Three opens of /dev/liveupdate, one of them closing again: in_use is claimed by compare-and-swap.
        new("two-opens", Boot, [[Open()], [Open()], [Open(), CloseOwn()]]),

        // Two CREATE_SESSION with the same name (and one with another): one EEXIST.
        new("same-name-creates", WithDevice, [[Create("x")], [Create("x")], [Create("y")]]),

        // close of a session fd racing PRESERVE_FD on it through a dup: the ioctl holds a reference (fdget), so
        // the release (unpreserve) runs after it.
        new("close-vs-preserve", n =>
        {
            var w = WithDevice(n);
            var t = w.Target;
            w.Fds["s1"] = w.Must(LuoSyscalls.CreateSession(t.Kernel, t.Process, w.Fds["dev"], "s", out int s) == 0 ? s : -1, "create");
            w.Fds["s2"] = w.Must(t.Kernel.Dup(t.Process, s), "dup");
            w.Fds["f"] = w.Must(t.Kernel.CreateTestFile(t.Process, 0xF00D), "testfile");
            return w;
        }, [[Preserve("s2", "f", FirstToken)], [Close("s1"), Close("s2")]]),

        // reboot racing CREATE_SESSION and PRESERVE_FD: either serialised into the handover or Frozen.
        new("reboot-vs-create-preserve", n =>
        {
            var w = WithDevice(n);
            var t = w.Target;
            w.Fds["s"] = w.Must(LuoSyscalls.CreateSession(t.Kernel, t.Process, w.Fds["dev"], "s", out int s) == 0 ? s : -1, "create");
            w.Fds["f"] = w.Must(t.Kernel.CreateTestFile(t.Process, 0xA1), "testfile");
            w.Fds["g"] = w.Must(t.Kernel.CreateTestFile(t.Process, 0xB2), "testfile");
            w.Must(LuoSyscalls.PreserveFd(t.Kernel, t.Process, s, w.Fds["f"], FirstToken), "preserve");
            return w;
        }, [[Reboot()], [Create("new")], [Preserve("s", "g", SecondToken)]]),

        // RETRIEVE_SESSION twice concurrently in the next kernel (plus a retrieve of an unknown name).
        new("retrieve-twice", n =>
        {
            var w = WithDevice(n);
            var t = w.Target;
            w.Must(LuoSyscalls.CreateSession(t.Kernel, t.Process, w.Fds["dev"], "s", out int s), "create");
            int f = w.Must(t.Kernel.CreateTestFile(t.Process, 0xC3), "testfile");
            w.Must(LuoSyscalls.PreserveFd(t.Kernel, t.Process, s, f, RetrievedToken), "preserve");
            w.Must(t.Kernel.Reboot(t.Process, KernelBoot.LINUX_REBOOT_CMD_KEXEC), "reboot");
            w.Kexec();
            t = w.Target;
            w.Fds["dev"] = w.Must(LuoSyscalls.OpenDevice(t.Kernel, t.Process), "open");
            return w;
        }, [[Retrieve("s")], [Retrieve("s")], [Retrieve("nope")]]),

        // A session fd offered to PRESERVE_FD of another session (ENOENT: no handler) while its last fd is closed:
        // the reference PRESERVE_FD took is dropped after serialize_lock (deferred fput), so that session's
        // release runs then, racing a reboot.
        new("preserve-session-fd-vs-close", n =>
        {
            var w = WithDevice(n);
            var t = w.Target;
            w.Fds["a"] = w.Must(LuoSyscalls.CreateSession(t.Kernel, t.Process, w.Fds["dev"], "a", out int a) == 0 ? a : -1, "create");
            w.Fds["b"] = w.Must(LuoSyscalls.CreateSession(t.Kernel, t.Process, w.Fds["dev"], "b", out int b) == 0 ? b : -1, "create");
            int f = w.Must(t.Kernel.CreateTestFile(t.Process, 0xD4), "testfile");
            w.Must(LuoSyscalls.PreserveFd(t.Kernel, t.Process, b, f, FirstToken), "preserve");
            return w;
        }, [[Preserve("a", "b", SecondToken)], [Close("b")], [Reboot()]]),

        // RETRIEVE_FD of one token twice concurrently (per-file mutex), and FINISH racing them.
        new("retrieve-fd-twice", n =>
        {
            var w = WithDevice(n);
            var t = w.Target;
            w.Must(LuoSyscalls.CreateSession(t.Kernel, t.Process, w.Fds["dev"], "s", out int s), "create");
            int f = w.Must(t.Kernel.CreateTestFile(t.Process, 0xE5), "testfile");
            w.Must(LuoSyscalls.PreserveFd(t.Kernel, t.Process, s, f, RetrievedToken), "preserve");
            w.Must(t.Kernel.Reboot(t.Process, KernelBoot.LINUX_REBOOT_CMD_KEXEC), "reboot");
            w.Kexec();
            t = w.Target;
            w.Fds["dev"] = w.Must(LuoSyscalls.OpenDevice(t.Kernel, t.Process), "open");
            w.Must(LuoSyscalls.RetrieveSession(t.Kernel, t.Process, w.Fds["dev"], "s", out int rs), "retrieve");
            w.Fds["s"] = rs;
            return w;
        }, [[RetrieveFd("s", RetrievedToken)], [RetrieveFd("s", RetrievedToken)], [Finish("s")]]),
    ];

    /// <summary>A canonical text of the step results and of every state a serial order could differ in: device,
    /// freeze, outgoing and incoming sessions with files and block addresses, sessions_pa, registry, FLB and
    /// test-handler calls, and the kinds of the open fds (fd numbers left out).</summary>
    public static string Digest(RaceWorld w, IReadOnlyList<long> results)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(results);
        var t = w.Target;
        var luo = t.Kernel.Luo;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append("results ").AppendJoin(',', results).Append('\n');
        sb.Append(inv, $"in_use {luo.DeviceInUse} frozen {luo.IsFrozen} state {t.Kernel.State} sessions_pa {luo.OutSessionsPa:x}\n");
        sb.Append("session blocks ").AppendJoin(',', luo.Outgoing.Blocks?.Blocks ?? []).Append('\n');
        foreach (var s in luo.Outgoing.Sessions)
            sb.Append(inv, $"out {s.Name} {s.State} [{string.Join(",", s.Files.Select(f => $"{f.Token}:{f.Handler.Compatible}:{f.SerializedData:x}"))}] blocks {string.Join(",", s.FileBlocks?.Blocks ?? [])}\n");
        foreach (var s in luo.Incoming.Sessions)
            sb.Append(inv, $"in {s.Name} {s.State} {s.Retrieved} [{string.Join(",", s.Files.Select(f => $"{f.Token}:{f.RetrieveStatus}"))}]\n");
        sb.Append(inv, $"registry {luo.RegisteredFiles.Count}\n");
        if (t.Flb is { } flb) sb.Append(inv, $"flb {flb.PreserveCalls}/{flb.UnpreserveCalls}/{flb.RetrieveCalls}/{flb.FinishCalls} count {flb.OutgoingCount}\n");
        if (t.Kernel.TestHandler is { } th) sb.Append("handler ").AppendJoin(';', th.Log.Select(r => $"{r.Op}:{r.Token}:{r.Tag}:{r.Result}")).Append('\n');
        var p = t.Process;
        sb.Append("fds ").AppendJoin(',', p.OpenFds.Select(fd => p.FileOf(fd)?.PathName ?? "?").Order(StringComparer.Ordinal)).Append('\n');
        return sb.ToString();
    }
}
