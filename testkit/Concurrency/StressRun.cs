using System.Diagnostics;
using System.Globalization;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Invariants;
using LuoModel.Testkit.Trace;
using KernelBoot = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit.Concurrency;

/// <summary>Settings of a <see cref="StressRun"/>.</summary>
/// <param name="Threads">Worker threads (all in one process: they share its fd table).</param>
/// <param name="OpsPerThread">Random session operations per worker.</param>
/// <param name="Seed">Seed of every random choice (thread timing is not seeded: the OS schedules).</param>
/// <param name="RebootAfterOps">The reboot thread calls reboot(KEXEC) once the workers completed this many
/// operations in total.</param>
/// <param name="Timeout">Bound for the whole run: a thread still running then is reported as a hang.</param>
public sealed record StressOptions(int Threads = 6, int OpsPerThread = 300, int Seed = 1, int RebootAfterOps = 900, double TimeoutSeconds = 30);

/// <summary>The operations a stress worker issues.</summary>
public enum StressKind
{
    /// <summary>CREATE_SESSION (own or contended name).</summary>
    Create,
    /// <summary>PRESERVE_FD into an own or a shared session.</summary>
    Preserve,
    /// <summary>GET_NAME.</summary>
    GetName,
    /// <summary>close() of an own session fd.</summary>
    Close,
    /// <summary>FINISH on an outgoing session (EINVAL).</summary>
    Finish,
    /// <summary>RETRIEVE_SESSION in the first kernel (ENOENT).</summary>
    Retrieve,
}

/// <summary>One completed operation: what it was (by logical names, not fd numbers), its result, and the
/// tickets of the last mm-lock and serialize_lock acquisitions it made (0 = none).</summary>
/// <remarks>A close of a session takes the mm lock twice (files released under the session mutex, then the
/// session leaves its list under the list rwsem, as luo_session_release() does): <see cref="FirstMmTicket"/> and
/// <see cref="MmTicket"/> bound that window.</remarks>
public sealed record StressOp(int Thread, int Index, StressKind Kind, string Session, string? File, ulong Token, long Result,
    long MmTicket, long SerializeTicket, bool StartedAfterFreeze, long FirstMmTicket = 0);

/// <summary>What a stress run found.</summary>
public sealed class StressReport
{
    /// <summary>Every operation, per thread in program order.</summary>
    public List<StressOp> Ops { get; } = [];
    /// <summary>reboot(KEXEC) result.</summary>
    public long RebootResult { get; set; }
    /// <summary>serialize_lock ticket of the reboot (its exclusive acquisition).</summary>
    public long RebootSerializeTicket { get; set; }
    /// <summary>mm ticket of the reboot's serialization.</summary>
    public long RebootMmTicket { get; set; }
    /// <summary>Problems found (empty = pass).</summary>
    public List<string> Failures { get; } = [];
    /// <summary>Wall-clock duration.</summary>
    public TimeSpan Elapsed { get; set; }
    /// <summary>Operations replayed serially (those that changed or read state under the mm lock).</summary>
    public int Replayed { get; set; }

    /// <summary>One line: counts per kind and result.</summary>
    public string Summary()
    {
        var inv = CultureInfo.InvariantCulture;
        var byResult = Ops.GroupBy(o => o.Result == -(long)Errno.Frozen ? "frozen" : o.Result < 0 ? ((Errno)(-o.Result)).ToString() : "ok")
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}");
        int inFlight = Ops.Count(o => o.Result == -(long)Errno.Frozen && !o.StartedAfterFreeze);
        return string.Create(inv, $"{Ops.Count} ops ({string.Join(", ", byResult)}), frozen while in flight {inFlight}, replayed {Replayed}, reboot {RebootResult}, {Elapsed.TotalSeconds:0.00} s");
    }
}

/// <summary>
/// Stress test of issue 9 §3: worker threads of one process run random session operations on their own, on
/// contended and on shared sessions while another thread reboots. Afterwards: every thread ended within the
/// bound (no deadlock), the luo.md §8 structural invariants hold, no session operation entered serialize_lock
/// after the reboot froze it (later ones report Frozen), and a serial replay of the operations in the order they
/// took effect (their mm-lock tickets) gives the same results, the same LUO state and the same handover bytes as
/// decoded for the next kernel.
/// </summary>
public static class StressRun
{
    private const int PostFreezeOps = 20, SharedSessions = 3, OwnFiles = 4, SharedFiles = 3, NameSlots = 3, Tokens = 6;

    private sealed class Machine
    {
        public required TraceTarget T { get; init; }
        public required int Dev { get; init; }
        public Dictionary<string, int> Fds { get; } = [];
        public ulong[] Buffers { get; set; } = [];
    }

    private static Machine Setup(int threads)
    {
        var t = TraceTarget.ColdBoot();
        var k = t.Kernel;
        var p = t.Process;
        int dev = (int)LuoSyscalls.OpenDevice(k, p);
        if (dev < 0) throw new InvalidOperationException($"open = {dev}");
        var m = new Machine { T = t, Dev = dev, Buffers = UserCalls.MapBuffers(p, threads + 1) };
        for (int i = 0; i < SharedSessions; i++)
        {
            long rc = LuoSyscalls.CreateSession(k, p, dev, $"shared-{i}", out int fd);
            if (rc != 0) throw new InvalidOperationException($"create = {rc}");
            m.Fds[$"shared-{i}"] = fd;
        }
        for (int th = 0; th < threads; th++)
            for (int j = 0; j < OwnFiles; j++) m.Fds[$"f{th}.{j}"] = (int)k.CreateTestFile(p, (ulong)((th * 16) + j + 1), $"f{th}.{j}");
        for (int j = 0; j < SharedFiles; j++) m.Fds[$"shared-f{j}"] = (int)k.CreateTestFile(p, (ulong)(0x100 + j), $"shared-f{j}");
        return m;
    }

    /// <summary>Runs the stress test and checks it.</summary>
    public static StressReport Run(StressOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var report = new StressReport();
        var sw = Stopwatch.StartNew();
        var m = Setup(options.Threads);
        var logs = new List<StressOp>[options.Threads];
        int completed = 0;
        var frozenSeen = 0;
        var threads = new Thread[options.Threads + 1];
        var errors = new List<string>();
        for (int th = 0; th < options.Threads; th++)
        {
            int id = th;
            logs[id] = [];
            threads[id] = new Thread(() =>
            {
                try { Worker(m, id, options, logs[id], ref completed, ref frozenSeen); }
                catch (Exception e) { lock (errors) errors.Add($"thread {id}: {e}"); }
            }) { IsBackground = true, Name = $"stress-{id}" };
        }
        threads[^1] = new Thread(() =>
        {
            try
            {
                var sw2 = Stopwatch.StartNew();
                while (Volatile.Read(ref completed) < options.RebootAfterOps && sw2.Elapsed.TotalSeconds < options.TimeoutSeconds / 2) Thread.Yield();
                report.RebootResult = m.T.Kernel.Reboot(m.T.Process, KernelBoot.LINUX_REBOOT_CMD_KEXEC);
                report.RebootSerializeTicket = KernelRwSem.LastTicketOnThisThread;
                report.RebootMmTicket = KernelMutex.LastTicketOnThisThread;
                Volatile.Write(ref frozenSeen, 1);
            }
            catch (Exception e) { lock (errors) errors.Add($"reboot thread: {e}"); }
        }) { IsBackground = true, Name = "stress-reboot" };
        foreach (var th in threads) th.Start();
        var deadline = DateTime.UtcNow.AddSeconds(options.TimeoutSeconds);
        foreach (var th in threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (!th.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero)) report.Failures.Add($"{th.Name} still running after {options.TimeoutSeconds} s (deadlock or hang)");
        }
        report.Failures.AddRange(errors);
        foreach (var l in logs) report.Ops.AddRange(l);
        if (report.Failures.Count == 0) Check(m, options, report);
        report.Elapsed = sw.Elapsed;
        return report;
    }

    private static void Worker(Machine m, int id, StressOptions o, List<StressOp> log, ref int completed, ref int frozenSeen)
    {
        var rng = new Random(unchecked((o.Seed * 1_000_003) + id));
        var k = m.T.Kernel;
        var p = m.T.Process;
        ulong buf = m.Buffers[id];
        var own = new List<(string Name, int Fd)>();
        var clock = Stopwatch.StartNew();
        int afterFreeze = 0;
        // At least OpsPerThread operations, and on until a few have run after the reboot finished, so that
        // operations race the reboot and meet the frozen lock (bounded by half the timeout).
        for (int i = 0; i < o.OpsPerThread || (afterFreeze < PostFreezeOps && clock.Elapsed.TotalSeconds < o.TimeoutSeconds / 2); i++)
        {
            if (Volatile.Read(ref frozenSeen) != 0) afterFreeze++;
            var kind = rng.Next(100) switch
            {
                < 25 => StressKind.Create,
                < 60 => StressKind.Preserve,
                < 75 => StressKind.GetName,
                < 90 => StressKind.Close,
                < 95 => StressKind.Finish,
                _ => StressKind.Retrieve,
            };
            if (kind == StressKind.Close && own.Count == 0) kind = StressKind.Create;
            string session;
            int sfd;
            int pick = own.Count > 0 && rng.Next(2) == 0 ? rng.Next(own.Count) : -1;
            if (pick >= 0) (session, sfd) = own[pick];
            else
            {
                session = $"shared-{rng.Next(SharedSessions)}";
                sfd = m.Fds[session];
            }
            string? file = null;
            ulong token = 0;
            bool startedAfter = Volatile.Read(ref frozenSeen) != 0;
            long before = KernelMutex.LastTicketOnThisThread, sBefore = KernelRwSem.LastTicketOnThisThread;
            KernelMutex.StartTicketWindow();
            long rc;
            switch (kind)
            {
                case StressKind.Create:
                    session = rng.Next(2) == 0 ? $"t{id}-{rng.Next(NameSlots)}" : $"c-{rng.Next(NameSlots)}";
                    rc = UserCalls.CreateSession(k, p, buf, m.Dev, session, out int nfd);
                    if (rc == 0) own.Add((session, nfd));
                    break;
                case StressKind.Preserve:
                    file = rng.Next(3) == 0 ? $"shared-f{rng.Next(SharedFiles)}" : $"f{id}.{rng.Next(OwnFiles)}";
                    token = (ulong)rng.Next(1, Tokens + 1);
                    rc = UserCalls.PreserveFd(k, p, buf, sfd, m.Fds[file], token);
                    break;
                case StressKind.GetName:
                    rc = UserCalls.GetName(k, p, buf, sfd, out string? name);
                    if (rc == 0 && name != session) throw new InvalidOperationException($"GET_NAME of {session} gave {name}");
                    break;
                case StressKind.Close:
                    (session, sfd) = own[rng.Next(own.Count)];
                    own.Remove((session, sfd));
                    rc = k.Close(p, sfd);
                    break;
                case StressKind.Finish:
                    rc = UserCalls.Finish(k, p, buf, sfd);
                    break;
                default:
                    session = "absent";
                    rc = UserCalls.RetrieveSession(k, p, buf, m.Dev, session, out _);
                    break;
            }
            long mm = KernelMutex.LastTicketOnThisThread, ser = KernelRwSem.LastTicketOnThisThread;
            log.Add(new StressOp(id, i, kind, session, file, token, rc, mm != before ? mm : 0, ser != sBefore ? ser : 0, startedAfter,
                KernelMutex.FirstTicketInWindow));
            Interlocked.Increment(ref completed);
        }
    }

    private static void Check(Machine m, StressOptions o, StressReport r)
    {
        var t = m.T;
        const long Frozen = -(long)Errno.Frozen;
        if (r.RebootResult != 0) r.Failures.Add($"reboot(KEXEC) = {r.RebootResult}");
        foreach (var v in LuoInvariants.Check(t)) r.Failures.Add($"invariant {v}");
        foreach (var op in r.Ops)
        {
            if (op.SerializeTicket != 0 && r.RebootSerializeTicket != 0 && op.SerializeTicket > r.RebootSerializeTicket)
                r.Failures.Add($"{op} entered serialize_lock after the reboot froze it (ticket {r.RebootSerializeTicket})");
            if (op.MmTicket != 0 && r.RebootMmTicket != 0 && op.MmTicket > r.RebootMmTicket)
                r.Failures.Add($"{op} changed state after the reboot serialized (mm ticket {r.RebootMmTicket})");
            bool dispatchError = op.Kind == StressKind.Finish && op.Result == -(long)Errno.EINVAL; // §3.2 step 4 precedes the lock
            if (op.StartedAfterFreeze && op.Result != Frozen && !dispatchError)
                r.Failures.Add($"{op} started after the freeze but completed with {op.Result} instead of Frozen");
            if (op.Result == Frozen && op.MmTicket != 0) r.Failures.Add($"{op} reported Frozen after changing state");
        }
        if (r.Failures.Count > 0) return;

        // Serial replay in the order the operations took effect: a close at its first mm section (its files are
        // released there; the name stays taken until its last section, so a CREATE_SESSION of that name inside
        // the window got EEXIST without any effect and is checked against the window instead of replayed).
        var replay = Setup(o.Threads);
        var rk = replay.T.Kernel;
        var rp = replay.T.Process;
        ulong buf = replay.Buffers[^1];
        var live = new Dictionary<string, int>(replay.Fds);
        var effective = r.Ops.Where(op => op.MmTicket != 0).OrderBy(op => op.Kind == StressKind.Close ? op.FirstMmTicket : op.MmTicket).ToList();
        var closeWindows = r.Ops.Where(op => op.Kind == StressKind.Close && op.MmTicket != 0).ToLookup(op => op.Session);
        r.Replayed = effective.Count;
        foreach (var op in effective)
        {
            long rc;
            switch (op.Kind)
            {
                case StressKind.Create when op.Result == -(long)Errno.EEXIST
                    && closeWindows[op.Session].Any(c => c.FirstMmTicket < op.MmTicket && op.MmTicket < c.MmTicket):
                    continue;
                case StressKind.Create:
                    rc = UserCalls.CreateSession(rk, rp, buf, replay.Dev, op.Session, out int fd);
                    if (rc == 0) live[op.Session] = fd;
                    break;
                case StressKind.Preserve:
                    rc = UserCalls.PreserveFd(rk, rp, buf, live[op.Session], replay.Fds[op.File!], op.Token);
                    break;
                case StressKind.Close:
                    rc = rk.Close(rp, live[op.Session]);
                    live.Remove(op.Session);
                    break;
                default:
                    r.Failures.Add($"{op}: unexpected mm section");
                    return;
            }
            if (rc != op.Result)
            {
                r.Failures.Add($"replay of {op} gave {rc}");
                return;
            }
        }
        long rb = rk.Reboot(rp, KernelBoot.LINUX_REBOOT_CMD_KEXEC);
        if (rb != r.RebootResult) r.Failures.Add($"replayed reboot = {rb}, concurrent {r.RebootResult}");
        string a = StateDigest(t), b = StateDigest(replay.T);
        if (a != b) r.Failures.Add($"LUO state differs from the serial replay:\n--- concurrent\n{a}--- replay\n{b}");
        if (r.RebootResult != 0 || r.Failures.Count > 0) return;
        string ha = HandoverText(t.Kernel), hb = HandoverText(replay.T.Kernel);
        if (ha != hb) r.Failures.Add($"handover differs from the serial replay:\n--- concurrent\n{ha}--- replay\n{hb}");
    }

    /// <summary>LUO state as the next kernel would get it (no fds, no object identities).</summary>
    private static string StateDigest(TraceTarget t)
    {
        var luo = t.Kernel.Luo;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"frozen {luo.IsFrozen} sessions_pa {luo.OutSessionsPa:x} blocks {string.Join(",", luo.Outgoing.Blocks?.Blocks ?? [])}\n");
        foreach (var s in luo.Outgoing.Sessions)
            sb.Append(inv, $"{s.Name} [{string.Join(",", s.Files.Select(f => $"{f.Token}:{f.SerializedData:x}"))}] blocks {string.Join(",", s.FileBlocks?.Blocks ?? [])}\n");
        sb.Append(inv, $"registry {luo.RegisteredFiles.Count}");
        if (t.Flb is { } flb) sb.Append(inv, $" flb {flb.PreserveCalls}/{flb.UnpreserveCalls} count {flb.OutgoingCount}");
        sb.Append('\n');
        return sb.ToString();
    }

    /// <summary>Kexecs <paramref name="k"/> and decodes the handover exactly as the next kernel finds it, then
    /// lists what the next kernel's LUO holds.</summary>
    private static string HandoverText(KernelBoot k)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var next = k.Kexec(null, arena =>
        {
            var h = HandoverDecoder.Decode(arena, out _);
            if (h is null) { sb.Append("no handover\n"); return; }
            sb.Append(inv, $"root {h.Root} accepted {h.Accepted}\n");
            foreach (var b in h.SessionBlocks) sb.Append(inv, $"session block {b}\n");
            foreach (var s in h.Sessions)
            {
                sb.Append(inv, $"session {s.Index} @{s.Phys:x} {s.Name} files {s.FileCount} @{s.FilesPa:x}\n");
                foreach (var f in s.Files) sb.Append(inv, $"  file {f.Index} @{f.Phys:x} {f.Compatible} data {f.Data:x} token {f.Token}\n");
            }
            if (h.Flb is { } flb) foreach (var e in flb.Entries) sb.Append(inv, $"flb {e}\n");
            foreach (var pr in h.Problems) sb.Append(inv, $"problem {pr}\n");
        });
        var p = next.CreateProcess();
        long dev = LuoSyscalls.OpenDevice(next, p);
        sb.Append(inv, $"next kernel open {dev} panicked {next.Panicked}\n");
        foreach (var s in next.Luo.Incoming.Sessions)
            sb.Append(inv, $"incoming {s.Name} [{string.Join(",", s.Files.Select(f => $"{f.Token}:{f.Handler.Compatible}:{f.SerializedData:x}"))}]\n");
        return sb.ToString();
    }
}
