using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>
/// Bodies of the embedded rows A3, A4, B7, B8, C6 and C7 (the D and E rows are in
/// <c>EmbeddedChecks.Lifecycle.cs</c>). Each runs the upstream programs (or the part of them the row is about)
/// and checks the row's expectation through the syscall surface; where the surface cannot show it, a
/// read-only look at what userspace could see in /proc (fd targets) or at the model state is named as such
/// in the step.
/// </summary>
internal static partial class EmbeddedChecks
{
    private static readonly TwoStageProgram F1 = TwoStageProgram.KexecSimple;
    private static readonly TwoStageProgram G1 = TwoStageProgram.MultiSession;
    private static readonly TwoStageProgram H3 = TwoStageProgram.StressSessions;
    private static readonly TwoStageProgram H4 = TwoStageProgram.StressFiles;

    /// <summary>A stage-1 step name of <paramref name="p"/>.</summary>
    private static string S1(TwoStageProgram p, string step) => p.Name + " -s 1: " + step;

    /// <summary>Runs a stress program through both stages for a row whose scenarios.md "where" column names it
    /// (B8, C6, C7, D1, D2, D3 cover every two-stage program, so the fixed-array FDT era flips them too) and
    /// checks that the named steps passed in order.</summary>
    private static void Stress(ScenarioRun run, TwoStageProgram p, string label, params string[] steps)
    {
        p.RunBothStages(run, run.NewMachine());
        StepsInOrder(run, p.Name + ": " + label, steps);
    }

    private static string Retrieve(TwoStageProgram p, string name) => p.Name + " -s 2: " + $"luo_retrieve_session(\"{name}\")";

    // ----- shared helpers -----

    /// <summary>init's reboot(KEXEC) and the boot of the next kernel, checked.</summary>
    internal static bool RebootInto(ScenarioRun run, Machine m, string label, KernelConfig? next = null)
    {
        if (!run.Check(label + ": init: reboot(LINUX_REBOOT_CMD_KEXEC)", Want.Zero, m.RebootKexec(), fatal: true)) return false;
        var k = m.Kexec(next is null ? null : ScenarioRun.Isolate(next));
        return run.CheckThat(label + ": next boot", !k.Panicked, "boots", k.Panicked ? "panic: " + k.Outcome.PanicReason : "boots", fatal: true);
    }

    /// <summary>A fresh program (child of init) with /dev/liveupdate opened; null (failed step) when the open fails.</summary>
    internal static (ProgramContext C, int Dev)? OpenAsNewProgram(ScenarioRun run, Machine m, string name)
    {
        var c = new ProgramContext(run, m, m.StartProgram(), name);
        long dev = LibLiveupdate.OpenDevice(c);
        return run.Check(name + ": open " + LibLiveupdate.DevicePath, Want.Fd, dev) ? (c, (int)dev) : null;
    }

    /// <summary>Checks that the named steps exist in this order (each after the previous) and all passed.</summary>
    internal static bool StepsInOrder(ScenarioRun run, string label, params string[] names)
    {
        int from = 0;
        string? problem = null;
        foreach (string n in names)
        {
            int j = -1;
            for (int i = from; i < run.Steps.Count; i++)
                if (run.Steps[i].Name == n) { j = i; break; }
            if (j < 0) { problem = $"\"{n}\" missing or out of order"; break; }
            if (!run.Steps[j].Passed) { problem = $"\"{n}\" returned {run.Steps[j].Actual}"; break; }
            from = j + 1;
        }
        return run.CheckThat(label, problem is null, string.Join(" -> ", names) + " (in order, all as expected)", problem ?? "as expected");
    }

    /// <summary>What /proc/PID/fd shows for the session <paramref name="name"/> in this run's session_inode variant.</summary>
    internal static string SessionTarget(ScenarioRun run, string name) => Kernel.Kernel.SessionLinkText(name, run.Config.Luo.SessionInode);

    /// <summary>The start of every session fd's /proc/PID/fd text in this run's variant.</summary>
    internal static string SessionLinkPrefix(ScenarioRun run) => Kernel.Kernel.SessionLinkPrefix(run.Config.Luo.SessionInode);

    /// <summary>The fd targets of a process, as readlink /proc/PID/fd/N shows them.</summary>
    internal static string[] FdTargets(Process p) => [.. p.OpenFds.Select(fd => p.FdPath(fd) ?? "?")];

    internal static KernelConfig WithFault(KernelConfig config, FaultPoint point, int nth, Errno error)
    {
        var c = ScenarioRun.Isolate(config);
        c.Faults.FailNth(point, nth, error);
        return c;
    }

    // ----- A -----

    /// <summary>A3: with LUO disabled every liveupdate.c test reports SKIP and the program exits 0.</summary>
    internal static void A3(ScenarioRun run)
    {
        run.SkipIsExpected = true;
        var m = run.NewMachine(run.Config with { Liveupdate = null });
        int status = new LiveupdateHarness(run, m).RunProgram();
        int skipped = run.Output.Count(l => l.StartsWith("ok ", StringComparison.Ordinal) && l.Contains(" # SKIP ", StringComparison.Ordinal));
        run.CheckEqual("liveupdate (LUO disabled): tests reported SKIP", LiveupdateHarness.Tests.Count, skipped);
        run.CheckEqual("liveupdate (LUO disabled): exit status", 0, status);
    }

    /// <summary>A4: a two-stage program whose open of /dev/liveupdate fails (absent, busy, or EIO after a
    /// failed deserialization) prints "1..0 # SKIP" and exits 4.</summary>
    internal static void A4(ScenarioRun run)
    {
        run.SkipIsExpected = true;
        var absent = run.NewMachine(run.Config with { Liveupdate = null });
        ExpectSkip(run, "device absent", () => F1.RunStage(run, absent, 1));

        var busy = run.NewMachine();
        var other = new ProgramContext(run, busy, busy.StartProgram(), "device holder");
        run.Check("device busy: another process opens " + LibLiveupdate.DevicePath, Want.Fd, LibLiveupdate.OpenDevice(other));
        ExpectSkip(run, "device busy", () => F1.RunStage(run, busy, 1));

        var failing = run.NewMachine();
        var s1 = F1.RunStage(run, failing, 1);
        if (!run.CheckEqual("device failing: stage 1 exit status", 0, s1.ExitStatus ?? -1)) return;
        if (!RebootInto(run, failing, "device failing", WithFault(run.Config, FaultPoint.DeserializeSessionAlloc, 1, Errno.ENOMEM))) return;
        ExpectSkip(run, "device failing (deserialization ENOMEM, open EIO)", () => F1.RunStage(run, failing, 2));
        var open = run.Trace.Records.LastOrDefault(r => r.Call == "open" && r.Args.StartsWith("\"" + LibLiveupdate.DevicePath, StringComparison.Ordinal));
        run.CheckEqual("device failing: open result", "-EIO", open?.ResultText ?? "(no open)");
    }

    private static void ExpectSkip(ScenarioRun run, string what, Func<ProgramContext> stage)
    {
        int before = run.Output.Count;
        var c = stage();
        run.CheckEqual(what + ": exit status", 4, c.ExitStatus ?? -1);
        bool printed = run.Output.Skip(before).Any(l => l.StartsWith("1..0 # SKIP", StringComparison.Ordinal));
        run.CheckThat(what + ": \"1..0 # SKIP\" printed", printed, "1..0 # SKIP ...", printed ? "printed" : "(missing)");
    }

    // ----- B -----

    /// <summary>B7: RETRIEVE_SESSION of the state name gives ENOENT on a fresh boot and after a kexec that
    /// carried other sessions; asking for stage 2 on a fresh boot is a "Stage mismatch" (exit 1).</summary>
    internal static void B7(ScenarioRun run)
    {
        var fresh = run.NewMachine();
        run.CheckEqual("fresh boot: stage 1 exit status", 0, F1.RunStage(run, fresh, 1).ExitStatus ?? -1);

        var other = run.NewMachine();
        if (G1.RunStage(run, other, 1).ExitStatus != 0 || !RebootInto(run, other, "after luo_multi_session stage 1")) return;
        run.CheckEqual("incoming data without the state name: stage 1 exit status", 0, F1.RunStage(run, other, 1).ExitStatus ?? -1);

        var sandbox = run.Sandbox();
        var c = F1.RunStage(sandbox, sandbox.NewMachine(), 2);
        foreach (string line in sandbox.Output) run.Print(line);
        run.CheckEqual("-s 2 on a fresh boot: exit status", 1, c.ExitStatus ?? -1);
        bool mismatch = sandbox.Output.Any(l => l.Contains("Stage mismatch", StringComparison.Ordinal));
        run.CheckThat("-s 2 on a fresh boot: \"Stage mismatch\"", mismatch, "Bail out! Stage mismatch ...", mismatch ? "printed" : "(missing)");
    }

    /// <summary>B8: after the kexec each stage-1 name is retrievable once; a second retrieve is EINVAL.</summary>
    internal static void B8(ScenarioRun run)
    {
        var m = run.NewMachine();
        if (G1.RunStage(run, m, 1).ExitStatus != 0 || !RebootInto(run, m, "luo_multi_session")) return;
        if (OpenAsNewProgram(run, m, "stage 2 retrieval") is not var (c, dev)) return;
        string[] names = [G1.StateSessionName, MultiSessionProgram.Empty1, MultiSessionProgram.Empty2, MultiSessionProgram.Files1, MultiSessionProgram.Files2];
        foreach (string n in names) run.Check($"luo_retrieve_session(\"{n}\")", Want.Fd, LibLiveupdate.RetrieveSession(c, dev, n));
        foreach (string n in names) run.Check($"second luo_retrieve_session(\"{n}\")", Want.Err(Errno.EINVAL), LibLiveupdate.RetrieveSession(c, dev, n));
        Stress(run, H3, "every stage-1 name retrieved", Retrieve(H3, "many-test-0"), Retrieve(H3, $"many-test-{StressSessionsProgram.Sessions - 1}"));
        Stress(run, H4, "every stage-1 name retrieved", Retrieve(H4, StressFilesProgram.Session));
    }

    // ----- C -----

    /// <summary>C6: every "create and preserve memfd" of stage 1 returns 0 although the memfd is closed right
    /// away; the holder keeps no memfd fd, LUO keeps the files, and stage 2 gets them back.</summary>
    internal static void C6(ScenarioRun run)
    {
        var m = run.NewMachine();
        var s1 = G1.RunStage(run, m, 1);
        if (s1.ExitStatus != 0 || s1.Holder is null) return;
        string[] targets = FdTargets(s1.Holder);
        int memfds = targets.Count(t => t.StartsWith("/memfd:", StringComparison.Ordinal));
        run.CheckEqual("/proc/<holder>/fd: memfd descriptors", 0, memfds);
        int[] files = [.. m.Kernel.Luo.Outgoing.Sessions.Select(s => s.Files.Count)];
        run.CheckEqual("model state: preserved files per outgoing session", "1,0,0,1,2", string.Join(',', files));
        G1.KexecAndRunStage2(run, m);
        Stress(run, H4, "every create_and_preserve_memfd returned 0",
            S1(H4, "create_and_preserve_memfd(token 0)"), S1(H4, $"create_and_preserve_memfd(token {StressFilesProgram.Files - 1})"));
    }

    /// <summary>C7: a retrieved memfd is close-on-exec, at offset 0, one page long, mappable read-only, and
    /// its page holds the stage-1 text with its NUL (the rest of the page is zero).</summary>
    internal static void C7(ScenarioRun run)
    {
        var m = run.NewMachine();
        if (F1.RunStage(run, m, 1).ExitStatus != 0 || !RebootInto(run, m, "luo_kexec_simple")) return;
        if (OpenAsNewProgram(run, m, "stage 2 retrieve") is not var (c, dev)) return;
        long s = LibLiveupdate.RetrieveSession(c, dev, KexecSimpleProgram.Session);
        if (!run.Check("luo_retrieve_session(\"test-session\")", Want.Fd, s)) return;
        long fd = LibLiveupdate.RetrieveFd(c, (int)s, KexecSimpleProgram.Token);
        if (!run.Check("luo_session_retrieve_fd(token 0x1a)", Want.Fd, fd)) return;
        var sys = c.Sys;
        var p = c.Process;
        run.Check("fcntl(fd, F_GETFD)", Want.Eq(FcntlCmd.FD_CLOEXEC), sys.Fcntl(p, (int)fd, FcntlCmd.F_GETFD));
        run.Check("lseek(fd, 0, SEEK_CUR)", Want.Zero, sys.Lseek(p, (int)fd, 0, MemfdConsts.SEEK_CUR));
        run.Check("lseek(fd, 0, SEEK_END)", Want.Eq(LibLiveupdate.PageSize), sys.Lseek(p, (int)fd, 0, MemfdConsts.SEEK_END));
        run.Check("lseek(fd, 0, SEEK_SET)", Want.Zero, sys.Lseek(p, (int)fd, 0, MemfdConsts.SEEK_SET));
        long map = sys.Mmap(p, LibLiveupdate.PageSize, Prot.Read, MemfdConsts.MAP_SHARED, (int)fd, 0);
        if (!run.Check("mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)", Want.Fd, map)) return;
        var page = new byte[LibLiveupdate.PageSize];
        if (!run.CheckThat("load of the mapped page", sys.Load(p, (ulong)map, page), "readable", "fault")) return;
        byte[] want = [.. System.Text.Encoding.ASCII.GetBytes(KexecSimpleProgram.Data), 0];
        run.CheckEqual("page bytes 0..17 (text and NUL)", Syscalls.Hex(want), Syscalls.Hex(page.AsSpan(0, want.Length)));
        run.CheckEqual("rest of the page (not checked upstream)", -1, page.AsSpan(want.Length).IndexOfAnyExcept((byte)0));
        run.Check("munmap", Want.Zero, sys.Munmap(p, (ulong)map, LibLiveupdate.PageSize));
        Stress(run, H4, "every token restored and verified", [.. VerifyClose(H4, 0), .. VerifyClose(H4, StressFilesProgram.Files - 1)]);
    }
}
