using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>Bodies of the embedded rows D1–D4 (finish) and E1–E9 (close semantics).</summary>
internal static partial class EmbeddedChecks
{
    private static string S2(TwoStageProgram p, string step) => p.Name + " -s 2: " + step;

    private static string[] FinishClose(TwoStageProgram p, string session) =>
        [S2(p, $"luo_session_finish({session})"), S2(p, $"close({session})")];

    private static string[] VerifyClose(TwoStageProgram p, long token) =>
        [S2(p, $"restore_and_verify_memfd(token 0x{token:x})"), S2(p, $"close(memfd of token 0x{token:x})")];

    private static void Full(ScenarioRun run, TwoStageProgram p) => p.RunBothStages(run, run.NewMachine());

    // ----- D -----

    /// <summary>D1: FINISH after every file of the session was retrieved (and its fd closed) → 0; close → 0.</summary>
    internal static void D1(ScenarioRun run)
    {
        Full(run, F1);
        StepsInOrder(run, "luo_kexec_simple: retrieve every file, then finish", [.. VerifyClose(F1, KexecSimpleProgram.Token), .. FinishClose(F1, KexecSimpleProgram.Session)]);
        Full(run, G1);
        StepsInOrder(run, "luo_multi_session: retrieve every file, then finish",
        [
            .. VerifyClose(G1, MultiSessionProgram.Token1), .. VerifyClose(G1, MultiSessionProgram.Token2), .. VerifyClose(G1, MultiSessionProgram.Token3),
            .. FinishClose(G1, MultiSessionProgram.Files1), .. FinishClose(G1, MultiSessionProgram.Files2),
        ]);
        Stress(run, H4, "retrieve every file, then finish", [.. VerifyClose(H4, StressFilesProgram.Files - 1), .. FinishClose(H4, StressFilesProgram.Session)]);
    }

    /// <summary>D2: an incoming session without files: RETRIEVE → fd, FINISH → 0, close → 0.</summary>
    internal static void D2(ScenarioRun run)
    {
        Full(run, G1);
        foreach (string s in new[] { MultiSessionProgram.Empty1, MultiSessionProgram.Empty2 })
            StepsInOrder(run, $"empty session \"{s}\"", [S2(G1, $"luo_retrieve_session(\"{s}\")"), .. FinishClose(G1, s)]);
        string last = $"many-test-{StressSessionsProgram.Sessions - 1}";
        Stress(run, H3, "every empty session retrieved and finished",
            [Retrieve(H3, "many-test-0"), .. FinishClose(H3, "many-test-0"), Retrieve(H3, last), .. FinishClose(H3, last)]);
    }

    /// <summary>D3: the state session (its memfd retrieved and closed) is finished last: FINISH → 0, close → 0.</summary>
    internal static void D3(ScenarioRun run)
    {
        foreach (var p in TwoStageProgram.All)
        {
            Full(run, p);
            StepsInOrder(run, p.Name + ": state memfd read, then the state session finished", [S2(p, $"state file: restore_and_verify_memfd(token {p.StateToken})"), .. FinishClose(p, p.StateSessionName)]);
            var last = run.Steps.LastOrDefault(s => s.Name.StartsWith(p.Name + " -s 2: luo_session_finish(", StringComparison.Ordinal));
            run.CheckEqual(p.Name + ": last FINISH", S2(p, $"luo_session_finish({p.StateSessionName})"), last?.Name ?? "(none)");
        }
    }

    /// <summary>D4: finish + close in the order empty-1, empty-2, files-1, files-2, state, every step 0.</summary>
    internal static void D4(ScenarioRun run)
    {
        Full(run, G1);
        StepsInOrder(run, "luo_multi_session finish order",
        [
            .. FinishClose(G1, MultiSessionProgram.Empty1), .. FinishClose(G1, MultiSessionProgram.Empty2),
            .. FinishClose(G1, MultiSessionProgram.Files1), .. FinishClose(G1, MultiSessionProgram.Files2),
            .. FinishClose(G1, G1.StateSessionName),
        ]);
    }

    // ----- E -----

    /// <summary>E1: every close of a session fd or of the device fd returns 0 (whole liveupdate binary and
    /// luo_kexec_simple).</summary>
    internal static void E1(ScenarioRun run)
    {
        new LiveupdateHarness(run, run.NewMachine()).RunProgram();
        Full(run, F1);
        var closes = run.Trace.Records.Where(r => r.Call == "close"
            && (r.Args.Contains("</dev/liveupdate>", StringComparison.Ordinal) || r.Args.Contains("<" + SessionLinkPrefix(run), StringComparison.Ordinal))).ToList();
        var bad = closes.FirstOrDefault(r => r.Result != 0);
        run.CheckThat("close() of device and session fds", closes.Count > 0 && bad is null, "every one returns 0",
            bad is null ? $"{closes.Count} closes, all 0" : bad.Line);
    }

    /// <summary>E2: closing an outgoing session unpreserves its files; the memfd stays valid with its data
    /// (and can be preserved again).</summary>
    internal static void E2(ScenarioRun run)
    {
        const string text = "hello liveupdate";
        var m = run.NewMachine();
        if (OpenAsNewProgram(run, m, "close semantics") is not var (c, dev)) return;
        var (sys, p) = (c.Sys, c.Process);
        long s = LibLiveupdate.CreateSession(c, dev, "preserve-memfd-test");
        long mfd = sys.MemfdCreate(p, "test-memfd", 0);
        if (!run.Check("luo_create_session", Want.Fd, s) || !run.Check("memfd_create", Want.Fd, mfd)) return;
        run.Check("write", Want.Eq(text.Length), sys.Write(p, (int)mfd, Encoding.ASCII.GetBytes(text)));
        run.Check("PRESERVE_FD token 0x1234", Want.Zero, LibLiveupdate.PreserveFd(c, (int)s, (int)mfd, 0x1234));
        run.Check("close(session)", Want.Zero, sys.Close(p, (int)s));
        run.Check("lseek(memfd, 0, SEEK_SET)", Want.Zero, sys.Lseek(p, (int)mfd, 0, MemfdConsts.SEEK_SET));
        long n = sys.Read(p, (int)mfd, 64, out byte[] data);
        run.Check("read(memfd, 64)", Want.Eq(text.Length), n);
        run.CheckEqual("memfd content", text, LibLiveupdate.CString(data));
        long s2 = LibLiveupdate.CreateSession(c, dev, "second-session");
        run.Check("PRESERVE_FD of the same memfd in a new session (no longer preserved)", Want.Zero, LibLiveupdate.PreserveFd(c, (int)s2, (int)mfd, 0x1234));
    }

    /// <summary>E3: closing a preserved memfd while its session is open does not affect the preservation.</summary>
    internal static void E3(ScenarioRun run)
    {
        var m = run.NewMachine();
        if (OpenAsNewProgram(run, m, "close semantics") is not var (c, dev)) return;
        var (sys, p) = (c.Sys, c.Process);
        long s = LibLiveupdate.CreateSession(c, dev, "preserve-multi-memfd-test");
        long m1 = sys.MemfdCreate(p, "test-memfd-1", 0);
        if (!run.Check("luo_create_session", Want.Fd, s) || !run.Check("memfd_create", Want.Fd, m1)) return;
        run.Check("PRESERVE_FD token 0xAAAA", Want.Zero, LibLiveupdate.PreserveFd(c, (int)s, (int)m1, 0xAAAA));
        run.Check("close(preserved memfd)", Want.Zero, sys.Close(p, (int)m1));
        long m2 = sys.MemfdCreate(p, "test-memfd-2", 0);
        run.Check("PRESERVE_FD of another memfd with token 0xAAAA (token still in use)", Want.Err(Errno.EEXIST), LibLiveupdate.PreserveFd(c, (int)s, (int)m2, 0xAAAA));
        run.CheckEqual("model state: files preserved in the session", 1, m.Kernel.Luo.Outgoing.Sessions[0].Files.Count);
    }

    /// <summary>E4: after each test's process releases the device, the next test opens it again (whole binary).</summary>
    internal static void E4(ScenarioRun run)
    {
        int status = new LiveupdateHarness(run, run.NewMachine()).RunProgram();
        int opened = LiveupdateHarness.Tests.Count(t => run.Steps.Any(s => s.Name == t.Name + ": open /dev/liveupdate" && s.Passed));
        run.CheckEqual("tests whose open of /dev/liveupdate succeeded", LiveupdateHarness.Tests.Count, opened);
        run.CheckEqual("liveupdate exit status", 0, status);
    }

    /// <summary>E5: stage 1 closes the device before daemonizing: the device is free again and the outgoing
    /// sessions survive (a duplicate create is EEXIST); stage 2 still finds them.</summary>
    internal static void E5(ScenarioRun run)
    {
        var m = run.NewMachine();
        if (F1.RunStage(run, m, 1).ExitStatus != 0) return;
        if (OpenAsNewProgram(run, m, "after stage 1") is not var (c, dev)) return;
        foreach (string n in new[] { F1.StateSessionName, KexecSimpleProgram.Session })
            run.Check($"luo_create_session(\"{n}\") (still exists)", Want.Err(Errno.EEXIST), LibLiveupdate.CreateSession(c, dev, n));
        run.Check("close(dev)", Want.Zero, c.Sys.Close(c.Process, dev));
        c.Exit(0);
        F1.KexecAndRunStage2(run, m);
    }

    /// <summary>E6: the daemonizing parent exits holding copies of the session fds; the child keeps them and
    /// the sessions stay (released only with the last reference).</summary>
    internal static void E6(ScenarioRun run)
    {
        var m = run.NewMachine();
        var s1 = F1.RunStage(run, m, 1);
        if (!run.CheckEqual("stage 1 parent exit status", 0, s1.ExitStatus ?? -1) || s1.Holder is null) return;
        run.CheckThat("stage 1 parent exited", s1.Process.Exited, "exited", s1.Process.Exited ? "exited" : "alive");
        string[] t = FdTargets(s1.Holder);
        string want = $"{SessionTarget(run, F1.StateSessionName)},{SessionTarget(run, KexecSimpleProgram.Session)}";
        run.CheckEqual("/proc/<holder>/fd session descriptors", want, string.Join(',', t.Where(x => x.StartsWith(SessionLinkPrefix(run), StringComparison.Ordinal))));
        if (OpenAsNewProgram(run, m, "after the parent exit") is not var (c, dev)) return;
        run.Check($"luo_create_session(\"{KexecSimpleProgram.Session}\") (still exists)", Want.Err(Errno.EEXIST), LibLiveupdate.CreateSession(c, dev, KexecSimpleProgram.Session));
        c.Exit(0);
        F1.KexecAndRunStage2(run, m);
    }

    /// <summary>E7: create_state_file keeps the state session fd open; closing it instead would unpreserve the
    /// session, and the next boot would not find it.</summary>
    internal static void E7(ScenarioRun run)
    {
        var m = run.NewMachine();
        var s1 = F1.RunStage(run, m, 1);
        if (s1.Holder is null) return;
        bool held = FdTargets(s1.Holder).Contains(SessionTarget(run, F1.StateSessionName));
        run.CheckThat("/proc/<holder>/fd holds the state session", held, "held", held ? "held" : "(missing)");

        var m2 = run.NewMachine();
        if (OpenAsNewProgram(run, m2, "state session closed") is not var (c, dev)) return;
        if (!LibLiveupdate.CreateStateFile(c, dev, F1.StateSessionName, F1.StateToken, 2)) return;
        int stateFd = c.Process.OpenFds.First(fd => c.Process.FdPath(fd) == SessionTarget(run, F1.StateSessionName));
        run.Check("close(state session)", Want.Zero, c.Sys.Close(c.Process, stateFd));
        if (!RebootInto(run, m2, "state session closed")) return;
        if (OpenAsNewProgram(run, m2, "next boot") is not var (c2, dev2)) return;
        run.Check($"luo_retrieve_session(\"{F1.StateSessionName}\") after the close", Want.Err(Errno.ENOENT), LibLiveupdate.RetrieveSession(c2, dev2, F1.StateSessionName));
    }

    /// <summary>E8: the retrieved memfd is closed before FINISH and FINISH still succeeds.</summary>
    internal static void E8(ScenarioRun run)
    {
        Full(run, F1);
        StepsInOrder(run, "luo_kexec_simple: close of the retrieved memfd, then FINISH",
            [S2(F1, "close(memfd of token 0x1a)"), S2(F1, $"luo_session_finish({KexecSimpleProgram.Session})")]);
    }

    /// <summary>E9: a failing CREATE_SESSION (unterminated name, empty name, duplicate) installs no fd: the fd
    /// table is unchanged and the next fd is the lowest free number.</summary>
    internal static void E9(ScenarioRun run)
    {
        var m = run.NewMachine();
        if (OpenAsNewProgram(run, m, "failing creates") is not var (c, dev)) return;
        var p = c.Process;
        string Table() => string.Join(',', p.OpenFds);
        long first = LibLiveupdate.CreateSession(c, dev, "duplicate-session-test");
        if (!run.Check("luo_create_session(\"duplicate-session-test\")", Want.Fd, first)) return;
        string before = Table();
        var raw = LibLiveupdate.SessionStruct("");
        raw.AsSpan(LiveupdateUapi.NameOffset, LiveupdateUapi.NameLength).Fill((byte)'X');
        run.Check("CREATE_SESSION with 64 'X'", Want.Err(Errno.EINVAL), c.Sys.Ioctl(p, dev, LiveupdateUapi.CreateSession, raw));
        run.CheckEqual("fd table after the unterminated name", before, Table());
        run.Check("luo_create_session(\"\")", Want.Err(Errno.EINVAL), LibLiveupdate.CreateSession(c, dev, ""));
        run.CheckEqual("fd table after the empty name", before, Table());
        run.Check("second luo_create_session(\"duplicate-session-test\")", Want.Err(Errno.EEXIST), LibLiveupdate.CreateSession(c, dev, "duplicate-session-test"));
        run.CheckEqual("fd table after the duplicate", before, Table());
        run.Check("next fd is the lowest free number", Want.Eq(first + 1), c.Sys.Dup(p, dev));
    }
}
